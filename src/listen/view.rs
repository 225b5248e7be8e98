//! What the listener has delivered, and the difference each server
//! message makes to it.
//!
//! (A little over 400 lines with its tests: the hand-made server messages
//! production sends and the emulator never does live beside the code they
//! check.)

use super::*;
use worker::StreamEnd;

/// The result of applying one server message to the [`View`].
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Events to deliver, in order.
    pub(super) events: Vec<ListenEvent>,
    /// This message completed the stream's initial snapshot.
    pub(super) current: bool,
    /// The stream must be replaced.
    pub(super) end: Option<StreamEnd>,
}

/// The listener's knowledge of the result set, as delivered to the consumer.
#[derive(Debug, Default)]
pub(super) struct View {
    /// Name and `update_time` of every document delivered and not removed.
    pub(super) known: HashMap<String, Option<Timestamp>>,
    /// While the server (re)builds the result set, after our `AddTarget` or a
    /// server `RESET`: the documents re-sent so far, delivered as a difference
    /// against `known` at the next consistent snapshot.
    rebuild: Option<Rebuild>,
    /// The stream is new: its first snapshot replaces `known` wholesale, and
    /// is framed by `Reset` and `Current`.
    fresh: bool,
    /// The server said CURRENT for our target since the rebuild began.
    target_current: bool,
}

/// Documents in server order, with an index by name; removed ones leave `None`.
#[derive(Debug, Default)]
struct Rebuild {
    documents: Vec<Option<Document>>,
    index: HashMap<String, usize>,
}

impl Rebuild {
    fn upsert(&mut self, document: Document) {
        match self.index.get(&document.name) {
            Some(&slot) => self.documents[slot] = Some(document),
            None => {
                self.index
                    .insert(document.name.clone(), self.documents.len());
                self.documents.push(Some(document));
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(slot) = self.index.remove(name) {
            self.documents[slot] = None;
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

impl View {
    /// Prepares for a new stream: its first snapshot will replace everything.
    pub(super) fn start_over(&mut self) {
        self.rebuild = Some(Rebuild::default());
        self.fresh = true;
        self.target_current = false;
    }

    fn ours(target_ids: &[i32]) -> bool {
        target_ids.contains(&TARGET_ID)
    }

    /// Applies one server message, returning what to deliver.
    pub(super) fn apply(&mut self, response: ListenResponse) -> Outcome {
        let mut outcome = Outcome::default();
        match response.response_type {
            Some(ResponseType::TargetChange(change)) => self.target_change(change, &mut outcome),
            Some(ResponseType::DocumentChange(change)) => {
                if let Some(document) = change.document {
                    if Self::ours(&change.target_ids) {
                        self.upsert(document, &mut outcome);
                    } else if Self::ours(&change.removed_target_ids) {
                        self.remove(document.name, &mut outcome);
                    }
                }
            }
            Some(ResponseType::DocumentDelete(delete))
                if Self::ours(&delete.removed_target_ids) =>
            {
                self.remove(delete.document, &mut outcome);
            }
            Some(ResponseType::DocumentRemove(remove))
                if Self::ours(&remove.removed_target_ids) =>
            {
                self.remove(remove.document, &mut outcome);
            }
            Some(ResponseType::Filter(filter)) => self.existence_filter(filter, &mut outcome),
            // Deletes and removes for other targets, and empty messages.
            Some(ResponseType::DocumentDelete(_) | ResponseType::DocumentRemove(_)) | None => {}
        }
        outcome
    }

    fn upsert(&mut self, document: Document, outcome: &mut Outcome) {
        match &mut self.rebuild {
            Some(rebuild) => rebuild.upsert(document),
            None => {
                // A re-sent document that has not changed is not news.
                if self.known.get(&document.name) != Some(&document.update_time) {
                    self.known
                        .insert(document.name.clone(), document.update_time);
                    outcome.events.push(ListenEvent::Upsert(document));
                }
            }
        }
    }

    fn remove(&mut self, name: String, outcome: &mut Outcome) {
        match &mut self.rebuild {
            Some(rebuild) => rebuild.remove(&name),
            None => {
                if self.known.remove(&name).is_some() {
                    outcome.events.push(ListenEvent::Removed(name));
                }
            }
        }
    }

    fn target_change(&mut self, change: TargetChange, outcome: &mut Outcome) {
        // An empty list of target ids means every target, ours included.
        let ours = change.target_ids.is_empty() || Self::ours(&change.target_ids);
        match TargetChangeType::try_from(change.target_change_type) {
            Ok(TargetChangeType::NoChange) => {
                // Only a NO_CHANGE for the whole stream with a read time marks a
                // consistent snapshot, at which a rebuild may be delivered.
                let global = change.target_ids.is_empty() && change.read_time.is_some();
                if global && self.target_current && self.rebuild.is_some() {
                    self.finish_rebuild(outcome);
                }
            }
            Ok(TargetChangeType::Add) => debug!("target added"),
            Ok(TargetChangeType::Current) if ours => self.target_current = true,
            Ok(TargetChangeType::Reset) if ours => {
                debug!("server reset the target; rebuilding");
                self.rebuild = Some(Rebuild::default());
                self.target_current = false;
            }
            Ok(TargetChangeType::Remove) if ours => {
                let cause = change
                    .cause
                    .map(|status| format!("code {}: {}", status.code, status.message))
                    .unwrap_or_else(|| "no cause given".to_string());
                outcome.end = Some(StreamEnd::TargetRemoved(cause));
            }
            Ok(_) => {}
            Err(_) => debug!(
                kind = change.target_change_type,
                "ignoring unknown target change"
            ),
        }
    }

    /// The server's count of our result set must match ours; if it does not,
    /// documents left without our hearing of it, and only a fresh stream can
    /// tell which.
    fn existence_filter(&mut self, filter: ExistenceFilter, outcome: &mut Outcome) {
        if filter.target_id != TARGET_ID {
            return;
        }
        let local = match &self.rebuild {
            Some(rebuild) => rebuild.len(),
            None => self.known.len(),
        };
        if usize::try_from(filter.count) != Ok(local) {
            outcome.end = Some(StreamEnd::FilterMismatch {
                server: filter.count,
                local,
            });
        }
    }

    /// Delivers a completed rebuild: all of it after `Reset` on a fresh
    /// stream, else only what differs from what the consumer already knows.
    fn finish_rebuild(&mut self, outcome: &mut Outcome) {
        let Some(rebuild) = self.rebuild.take() else {
            return;
        };
        let fresh = std::mem::take(&mut self.fresh);
        if fresh {
            self.known.clear();
            outcome.events.push(ListenEvent::Reset);
        } else {
            let mut gone: Vec<String> = self
                .known
                .keys()
                .filter(|name| !rebuild.index.contains_key(*name))
                .cloned()
                .collect();
            gone.sort();
            for name in gone {
                self.known.remove(&name);
                outcome.events.push(ListenEvent::Removed(name));
            }
        }
        for document in rebuild.documents.into_iter().flatten() {
            if self.known.get(&document.name) != Some(&document.update_time) {
                self.known
                    .insert(document.name.clone(), document.update_time);
                outcome.events.push(ListenEvent::Upsert(document));
            }
        }
        if fresh {
            outcome.events.push(ListenEvent::Current);
            outcome.current = true;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The emulator never sends `DocumentDelete`, `DocumentRemove`, removals
    //! in a `DocumentChange` or existence filters, but production Firestore
    //! does; these cases are checked here on hand-made messages.

    use super::*;
    use firestore::gcloud_sdk::google::firestore::v1::{
        DocumentChange, DocumentDelete, DocumentRemove,
    };

    fn doc(name: &str, version: i64) -> Document {
        Document {
            name: name.to_string(),
            update_time: Some(Timestamp {
                seconds: version,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn msg(response: ResponseType) -> ListenResponse {
        ListenResponse {
            response_type: Some(response),
        }
    }

    fn change(document: Document) -> ListenResponse {
        msg(ResponseType::DocumentChange(DocumentChange {
            document: Some(document),
            target_ids: vec![TARGET_ID],
            removed_target_ids: vec![],
        }))
    }

    fn target(kind: TargetChangeType, target_ids: Vec<i32>) -> ListenResponse {
        msg(ResponseType::TargetChange(TargetChange {
            target_change_type: kind as i32,
            target_ids,
            read_time: Some(Timestamp::default()),
            ..Default::default()
        }))
    }

    /// The end of a snapshot as the server sends it: CURRENT for our target,
    /// then a NO_CHANGE for the whole stream with a read time.
    fn snapshot_end(view: &mut View) -> Vec<ListenEvent> {
        let mut events = view
            .apply(target(TargetChangeType::Current, vec![TARGET_ID]))
            .events;
        events.extend(
            view.apply(target(TargetChangeType::NoChange, vec![]))
                .events,
        );
        events
    }

    fn names(events: &[ListenEvent]) -> Vec<String> {
        events
            .iter()
            .map(|event| match event {
                ListenEvent::Reset => "reset".to_string(),
                ListenEvent::Upsert(document) => format!("upsert {}", document.name),
                ListenEvent::Removed(name) => format!("removed {name}"),
                ListenEvent::Current => "current".to_string(),
            })
            .collect()
    }

    /// A view that has delivered the initial snapshot `a`, `b`.
    fn current_view() -> View {
        let mut view = View::default();
        view.start_over();
        assert!(
            view.apply(target(TargetChangeType::Add, vec![TARGET_ID]))
                .events
                .is_empty()
        );
        assert!(view.apply(change(doc("a", 1))).events.is_empty());
        assert!(view.apply(change(doc("b", 1))).events.is_empty());
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["reset", "upsert a", "upsert b", "current"]);
        view
    }

    #[test]
    fn a_snapshot_is_delivered_only_once_consistent() {
        let mut view = View::default();
        view.start_over();
        view.apply(change(doc("a", 1)));
        // A consistent point before CURRENT does not complete the snapshot.
        let early = view.apply(target(TargetChangeType::NoChange, vec![]));
        assert!(early.events.is_empty() && !early.current);
        view.apply(target(TargetChangeType::Current, vec![TARGET_ID]));
        let done = view.apply(target(TargetChangeType::NoChange, vec![]));
        assert!(done.current);
        assert_eq!(names(&done.events), ["reset", "upsert a", "current"]);
    }

    #[test]
    fn production_style_changes_are_delivered_at_once() {
        let mut view = current_view();
        assert_eq!(names(&view.apply(change(doc("c", 1))).events), ["upsert c"]);
        // Re-sent unchanged: not news. Changed: news.
        assert!(view.apply(change(doc("c", 1))).events.is_empty());
        assert_eq!(names(&view.apply(change(doc("c", 2))).events), ["upsert c"]);

        let delete = msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "a".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        }));
        assert_eq!(names(&view.apply(delete).events), ["removed a"]);

        let remove = msg(ResponseType::DocumentRemove(DocumentRemove {
            document: "b".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        }));
        assert_eq!(names(&view.apply(remove).events), ["removed b"]);

        let no_longer_matches = msg(ResponseType::DocumentChange(DocumentChange {
            document: Some(doc("c", 3)),
            target_ids: vec![],
            removed_target_ids: vec![TARGET_ID],
        }));
        assert_eq!(names(&view.apply(no_longer_matches).events), ["removed c"]);

        // Removing what is not known, or another target's document, is silent.
        let other = msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "zzz".to_string(),
            removed_target_ids: vec![TARGET_ID + 1],
            read_time: None,
        }));
        assert!(view.apply(other).events.is_empty());
        assert!(view.known.is_empty());
    }

    #[test]
    fn a_server_reset_delivers_only_the_difference() {
        let mut view = current_view();
        view.apply(target(TargetChangeType::Reset, vec![TARGET_ID]));
        view.apply(change(doc("b", 2)));
        view.apply(change(doc("c", 1)));
        // A document re-sent and then removed within the rebuild is gone.
        view.apply(change(doc("d", 1)));
        view.apply(msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "d".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        })));
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["removed a", "upsert b", "upsert c"]);
        assert_eq!(view.known.len(), 2);
    }

    #[test]
    fn an_existence_filter_mismatch_ends_the_stream() {
        let mut view = current_view();
        let filter = |count| {
            msg(ResponseType::Filter(ExistenceFilter {
                target_id: TARGET_ID,
                count,
                unchanged_names: None,
            }))
        };
        assert!(view.apply(filter(2)).end.is_none());
        assert!(matches!(
            view.apply(filter(1)).end,
            Some(StreamEnd::FilterMismatch {
                server: 1,
                local: 2
            })
        ));
    }

    #[test]
    fn a_removed_target_ends_the_stream() {
        let mut view = current_view();
        let outcome = view.apply(target(TargetChangeType::Remove, vec![TARGET_ID]));
        assert!(matches!(outcome.end, Some(StreamEnd::TargetRemoved(_))));
    }

    #[test]
    fn a_new_stream_replaces_everything_known() {
        let mut view = current_view();
        view.start_over();
        view.apply(change(doc("a", 1)));
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["reset", "upsert a", "current"]);
        assert_eq!(view.known.len(), 1);
    }
}
