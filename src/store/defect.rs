//! Which part of a queued document is broken, for the quarantine record's
//! `defect` ([`crate::schema::Part`] says why the record names one).

use crate::console;
use crate::layout::Pile;
use crate::model::Task;
use crate::schema::{OPTIONAL_KEYS, Part, REQUIRED_KEYS, check_part};
use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1 as pb;

/// The first broken part of `doc` as the rules judge parts (`isDefect`),
/// or `None` when no part is: then it is a task, and may not be
/// quarantined.
pub fn defect(doc: &pb::Document) -> Option<Part> {
    if console::is_draft(doc.fields.keys()) {
        return Some(Part::Draft);
    }
    let known = |k: &str| REQUIRED_KEYS.contains(&k) || OPTIONAL_KEYS.contains(&k);
    if !REQUIRED_KEYS.iter().all(|k| doc.fields.contains_key(*k))
        || doc.fields.keys().any(|k| !known(k))
    {
        return Some(Part::Keys);
    }
    let id = doc.name.rsplit('/').next().unwrap_or_default();
    for part in Part::ALL.into_iter().skip(2) {
        // The part's own fields alone, the rest left to their defaults:
        // a type error there is this part's.
        let only = pb::Document {
            name: doc.name.clone(),
            fields: part
                .fields()
                .iter()
                .filter_map(|f| doc.fields.get(*f).map(|v| (f.to_string(), v.clone())))
                .collect(),
            ..Default::default()
        };
        let Ok(t) = FirestoreDb::deserialize_doc_to::<Task>(&only) else {
            return Some(part);
        };
        let broken = check_part(&t, part).is_err()
            || (part == Part::Core && t.task_id != id)
            || (part == Part::Status && Pile::of(t.status) != Pile::Queued);
        if broken {
            return Some(part);
        }
    }
    None
}
