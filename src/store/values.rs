//! The small builders every write and query uses: preconditions, server
//! times, values and filters.

use crate::layout::Pile;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use pb::document_transform::field_transform::{ServerValue, TransformType};
use pb::structured_query::{self as sq};

/// A write's condition on the current document.
#[derive(Clone, Copy, Debug)]
pub enum Precondition {
    None,
    /// The document must not exist (a create).
    Missing,
    /// The document must exist, whatever its version.
    Exists,
    /// The document must be exactly the version read (compare-and-set).
    UpdatedAt(Timestamp),
}

impl Precondition {
    pub fn into_pb(self) -> Option<pb::Precondition> {
        use pb::precondition::ConditionType;
        let c = match self {
            Precondition::None => return None,
            Precondition::Missing => ConditionType::Exists(false),
            Precondition::Exists => ConditionType::Exists(true),
            Precondition::UpdatedAt(t) => ConditionType::UpdateTime(t),
        };
        Some(pb::Precondition {
            condition_type: Some(c),
        })
    }
}

/// A field set to the commit's time by the server.
pub fn server_time(field: &str) -> pb::document_transform::FieldTransform {
    pb::document_transform::FieldTransform {
        field_path: field.into(),
        transform_type: Some(TransformType::SetToServerValue(
            ServerValue::RequestTime as i32,
        )),
    }
}

/// A core [`Time`](crate::model::Time) as a protobuf timestamp (the core
/// knows no protobuf).
pub fn pb_time(t: crate::model::Time) -> Timestamp {
    // jiff counts a time before 1970 in negative seconds and negative
    // nanoseconds; protobuf's nanoseconds are never negative.
    let (seconds, nanos) = (t.0.as_second(), t.0.subsec_nanosecond());
    if nanos < 0 {
        Timestamp {
            seconds: seconds - 1,
            nanos: nanos + 1_000_000_000,
        }
    } else {
        Timestamp { seconds, nanos }
    }
}

pub fn string_value(s: &str) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::StringValue(s.into())),
    }
}

/// `field == value`.
pub fn field_eq(field: &str, value: pb::Value) -> sq::Filter {
    field_op(field, sq::field_filter::Operator::Equal, value)
}

/// `field <op> value`.
pub fn field_op(field: &str, op: sq::field_filter::Operator, value: pb::Value) -> sq::Filter {
    sq::Filter {
        filter_type: Some(sq::filter::FilterType::FieldFilter(sq::FieldFilter {
            field: Some(sq::FieldReference {
                field_path: field.into(),
            }),
            op: op as i32,
            value: Some(value),
        })),
    }
}

/// `field in [values]`.
pub fn field_in(field: &str, values: &[&str]) -> sq::Filter {
    let array = pb::Value {
        value_type: Some(pb::value::ValueType::ArrayValue(pb::ArrayValue {
            values: values.iter().map(|v| string_value(v)).collect(),
        })),
    };
    field_op(field, sq::field_filter::Operator::In, array)
}

/// `field in [values]` for integers.
pub fn field_in_ints(field: &str, values: &[i64]) -> sq::Filter {
    let array = pb::Value {
        value_type: Some(pb::value::ValueType::ArrayValue(pb::ArrayValue {
            values: values
                .iter()
                .map(|v| pb::Value {
                    value_type: Some(pb::value::ValueType::IntegerValue(*v)),
                })
                .collect(),
        })),
    };
    field_op(field, sq::field_filter::Operator::In, array)
}

/// All of `filters` (one filter stays as it is).
pub fn all_of(filters: Vec<sq::Filter>) -> Option<sq::Filter> {
    composite(sq::composite_filter::Operator::And, filters)
}

/// Any of `filters` (one filter stays as it is).
pub fn any_of(filters: Vec<sq::Filter>) -> Option<sq::Filter> {
    composite(sq::composite_filter::Operator::Or, filters)
}

fn composite(
    op: sq::composite_filter::Operator,
    mut filters: Vec<sq::Filter>,
) -> Option<sq::Filter> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(sq::Filter {
            filter_type: Some(sq::filter::FilterType::CompositeFilter(
                sq::CompositeFilter {
                    op: op as i32,
                    filters,
                },
            )),
        }),
    }
}

/// Which pile a full document name is in.
pub fn pile_of_name(name: &str) -> Option<Pile> {
    let mut parts = name.rsplit('/');
    let _id = parts.next()?;
    let collection = Pile::of_collection_id(parts.next()?)?;
    (parts.next()? == collection.as_str()).then_some(collection)
}
