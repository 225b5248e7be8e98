//! `vayu bench`'s modes at tiny sizes, on an emulator the bench starts:
//! the reports must be sane (every DAG task completed in order, one task
//! per schedule tick, every polled task completed, the rank error
//! reported) and the new keys present in the JSON. Nothing about time is
//! asserted: the numbers are the bench's business, not the test's.

use vayu::bench::{self, BenchArgs, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_mode_reports_sanely() {
    let args = BenchArgs {
        agent_counts: vec![2],
        agents: 2,
        tasks: 20,
        modes: vec![
            Mode::Vayu,
            Mode::Dag,
            Mode::Schedule,
            Mode::Poll,
            Mode::Textbook,
        ],
        dag_levels: 3,
        dag_width: 3,
        ticks: 5,
        idle_samples: 2,
        idle_window_secs: 1,
        warmup_tasks: 0,
        no_rss: true,
        quiet: true,
        ..BenchArgs::default()
    };
    let report = bench::run(args, None)
        .await
        .expect("only the vayu modes can fail the bench, and they should not");
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let dag = report.dag.as_ref().expect("the dag mode ran");
    assert_eq!((dag.tasks, dag.edges), (9, 12));
    assert_eq!(dag.completed, 9, "every DAG task completed");
    assert_eq!(dag.unblocked, 6, "levels 1 and 2 went blocked → queued");
    assert_eq!(dag.order_violations, 0);
    assert_eq!(dag.unchecked_edges, 0);
    assert_eq!(dag.duplicates, 0);
    assert!(dag.create.ops.commits >= 9, "one commit a task at least");

    let sched = report.schedule.as_ref().expect("the schedule mode ran");
    assert_eq!(sched.ticks, 5);
    assert_eq!(sched.tasks_created, 5, "one task per tick");
    assert_eq!(sched.ticks_with_task, 5);
    assert_eq!(sched.duplicates, 0);
    assert!(sched.commits_per_tick >= 1.0);

    let poll = report.poll.as_ref().expect("the poll mode ran");
    assert_eq!(poll.completed, 20, "every polled task completed");
    assert_eq!(poll.duplicates, 0);
    assert!(poll.list_queries >= 1);
    assert!(poll.rank_error.is_some(), "the poll mode's rank error");

    let textbook = report.textbook.as_ref().expect("the textbook mode ran");
    assert!(textbook.rank_error.is_some() || textbook.completed == 0);
    assert!(report.vayu.as_ref().is_some_and(|v| v.completed == 20));

    let json = serde_json::to_value(&report).expect("the report serializes");
    for key in [
        "poll_throughput",
        "rank_error_p50",
        "rank_error_p99",
        "rank_error_max",
        "dag",
        "schedule",
        "poll",
        "throughput",
        "textbook_throughput",
    ] {
        assert!(json.get(key).is_some(), "top-level key {key}");
    }
    assert!(json["poll_throughput"].is_number());
    assert!(json["rank_error_p99"].is_number());
    assert!(json["poll"]["rank_error"]["p99"].is_number());
    assert!(json["dag"]["run"]["ops"]["commits"].is_number());
    let text = report.render();
    for part in ["dag:", "schedule:", "poll", "rank error"] {
        assert!(text.contains(part), "the table shows {part}:\n{text}");
    }
}
