//! Stopping gracefully: no new claims, running handlers get the grace
//! period, and whatever is left goes back to the queue.

use super::*;

impl Agent {
    pub(super) async fn shut_down(mut self) -> AgentReport {
        self.queue.close().await;
        self.peers_listener.stop().await;
        self.watch.close().await;
        self.background.abort_all();
        self.takeovers.abort_all();
        self.sweeps.abort_all();
        // A delivery cut short is delivered again by the next round,
        // here or elsewhere (at least once).
        if let Some((task, stop, _)) = self.notifier.take() {
            let _ = stop.send(true);
            task.abort();
        }
        let running = self.running.len();
        tracing::info!(agent = %self.cfg.agent_id, running, "shutting down");
        self.release_late_claims().await;
        self.stop_reviewing().await;
        self.finish_within_grace().await;
        self.finish_settling().await;
        // Runs whose history waits for its once-a-second write; bounded,
        // a stuck write must not hold the shutdown.
        let _ = tokio::time::timeout(self.cfg.grace, self.learner.flush()).await;
        let offline = self.agent_doc(AgentState::Offline);
        if let Err(e) = self.store.heartbeat_agent(&offline).await {
            tracing::warn!(error = %e, "could not mark the agent offline");
        }
        self.publish();
        if let Some((_, server)) = self.exporter.take() {
            server.abort();
        }
        let claimed = self.report.claimed;
        tracing::info!(agent = %self.cfg.agent_id, claimed, "agent stopped");
        self.report
    }

    /// Stops the review loop; a review in progress is given back. Bounded
    /// by the grace period: a stuck write must not hold the shutdown.
    async fn stop_reviewing(&mut self) {
        let Some((task, stop)) = self.reviewer.take() else {
            return;
        };
        let _ = stop.send(true);
        let abort = task.abort_handle();
        match tokio::time::timeout(self.cfg.grace, task).await {
            Ok(Ok(given)) => self.report.reviews_given = given,
            Ok(Err(e)) => tracing::error!(error = %e, "the review loop panicked"),
            Err(_) => {
                tracing::warn!("the review loop did not stop within the grace period");
                abort.abort();
            }
        }
    }

    /// Claims still in flight: one that lands now would leave a task in
    /// the active pile under our id with nobody running it; give it back.
    async fn release_late_claims(&mut self) {
        while let Some(joined) = self.claiming.join_next().await {
            let Ok((id, _, _, Ok(claimed))) = joined else {
                continue;
            };
            self.report.claimed += 1;
            let why = "the agent shut down before starting it";
            match recovery::requeue(&self.store, &claimed, &self.cfg.agent_id, why).await {
                Ok(_) => tracing::info!(task = %id, "released a task claimed during shutdown"),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "could not release a task claimed during shutdown; its lease will expire")
                }
            }
        }
    }

    /// Lets runners finish within the grace period (a drain's own, when a
    /// person asked for one), then tells the rest to release their tasks,
    /// and waits for them to do so.
    async fn finish_within_grace(&mut self) {
        let grace = match self.report.drained {
            true => self.cfg.drain_grace,
            false => self.cfg.grace,
        };
        let deadline = Instant::now() + grace;
        // A drain's grace outlasts the peers' patience: keep telling them
        // this agent is alive, so the dashboard and `agent list` show it
        // busy, not dead.
        let mut beat = tokio::time::interval(self.cfg.heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !self.runners.is_empty() {
            tokio::select! {
                joined = self.runners.join_next() => {
                    if let Some(Ok(done)) = joined {
                        self.ended_in_grace(done);
                    }
                }
                _ = beat.tick() => {
                    let presence = self.presence();
                    let write = self.store.beat(&presence);
                    if let Err(e) = tokio::time::timeout(self.cfg.heartbeat, write).await {
                        tracing::debug!(error = %e, "a heartbeat while finishing timed out");
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    let _ = self.release.send(true);
                    break;
                }
            }
        }
        while let Some(joined) = self.runners.join_next().await {
            if let Ok(done) = joined {
                self.ended_in_grace(done);
            }
        }
    }

    fn ended_in_grace(&mut self, done: guard::Finished) {
        self.running.remove(&done.id);
        self.count(done.outcome);
        self.settle(done.id, done.outcome, done.waited_on);
    }

    /// Waits for what the ended runs owe others (their permits, their
    /// dependents), within the grace: a stuck write must not hold the
    /// shutdown, and the sweep settles what is cut short.
    async fn finish_settling(&mut self) {
        let all = async { while self.settling.join_next().await.is_some() {} };
        if tokio::time::timeout(self.cfg.grace, all).await.is_err() {
            tracing::warn!("settling the ended runs did not finish within the grace period");
            self.settling.abort_all();
        }
    }
}
