//! Firestore values as JSON, losslessly: the REST API's typed encoding
//! (`{"integerValue":"7"}`, `{"timestampValue":"…Z"}`, …), which a person
//! can read and any Firestore tool understands.
//!
//! Plain JSON would lose what vayu relies on: an integer and a double are
//! both numbers, a timestamp is a string. So every value says its type,
//! as Firestore's own REST API does: integers as decimal strings (JSON
//! numbers are doubles in most readers), doubles as numbers (`"NaN"`,
//! `"Infinity"` and `"-Infinity"` as strings), timestamps as RFC 3339 with
//! every nanosecond, bytes as base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::google::r#type::LatLng;
use firestore::gcloud_sdk::prost_types::Timestamp;
use pb::value::ValueType as V;
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;

/// A document's fields as a JSON object, keys sorted (serde_json's map
/// is ordered), so two backups of the same data are the same text.
pub fn encode_fields(fields: &HashMap<String, pb::Value>) -> Result<Map<String, Json>, String> {
    (fields.iter())
        .map(|(k, v)| Ok((k.clone(), encode(v).map_err(|e| format!("{k}: {e}"))?)))
        .collect()
}

/// The inverse of [`encode_fields`]; the error names the field.
pub fn decode_fields(fields: &Map<String, Json>) -> Result<HashMap<String, pb::Value>, String> {
    (fields.iter())
        .map(|(k, v)| Ok((k.clone(), decode(v).map_err(|e| format!("{k}: {e}"))?)))
        .collect()
}

fn encode(v: &pb::Value) -> Result<Json, String> {
    let Some(t) = &v.value_type else {
        return Err("a value without a type".into());
    };
    Ok(match t {
        V::NullValue(_) => json!({"nullValue": null}),
        V::BooleanValue(b) => json!({"booleanValue": b}),
        V::IntegerValue(i) => json!({"integerValue": i.to_string()}),
        V::DoubleValue(d) => json!({"doubleValue": encode_double(*d)}),
        V::TimestampValue(t) => json!({"timestampValue": encode_time(t)?}),
        V::StringValue(s) => json!({"stringValue": s}),
        V::BytesValue(b) => json!({"bytesValue": BASE64.encode(b)}),
        V::ReferenceValue(r) => json!({"referenceValue": r}),
        V::GeoPointValue(g) => json!({"geoPointValue": {
            "latitude": encode_double(g.latitude),
            "longitude": encode_double(g.longitude),
        }}),
        V::ArrayValue(a) => {
            let values: Result<Vec<Json>, String> = a.values.iter().map(encode).collect();
            json!({"arrayValue": {"values": values?}})
        }
        V::MapValue(m) => json!({"mapValue": {"fields": encode_fields(&m.fields)?}}),
        // Pipeline expressions (field and variable references, functions,
        // pipelines) are query language, never a stored document's value.
        other => return Err(format!("not a stored value: {other:?}")),
    })
}

fn decode(v: &Json) -> Result<pb::Value, String> {
    let obj = v.as_object().filter(|o| o.len() == 1);
    let Some((kind, x)) = obj.and_then(|o| o.iter().next()) else {
        return Err(format!(
            "not a typed value (one key, like integerValue): {v}"
        ));
    };
    let t = match kind.as_str() {
        "nullValue" if x.is_null() => V::NullValue(0),
        "booleanValue" => V::BooleanValue(x.as_bool().ok_or("booleanValue: not a boolean")?),
        "integerValue" => V::IntegerValue(decode_integer(x)?),
        "doubleValue" => V::DoubleValue(decode_double(x)?),
        "timestampValue" => V::TimestampValue(decode_time(x)?),
        "stringValue" => V::StringValue(string(x, kind)?.to_string()),
        "bytesValue" => V::BytesValue(
            (BASE64.decode(string(x, kind)?))
                .map_err(|e| format!("bytesValue: not base64: {e}"))?,
        ),
        "referenceValue" => V::ReferenceValue(string(x, kind)?.to_string()),
        "geoPointValue" => V::GeoPointValue(LatLng {
            latitude: decode_double(&x["latitude"])?,
            longitude: decode_double(&x["longitude"])?,
        }),
        "arrayValue" => V::ArrayValue(pb::ArrayValue {
            values: match x.get("values") {
                None => Vec::new(),
                Some(Json::Array(a)) => a.iter().map(decode).collect::<Result<_, _>>()?,
                Some(_) => return Err("arrayValue.values: not an array".into()),
            },
        }),
        "mapValue" => V::MapValue(pb::MapValue {
            fields: match x.get("fields") {
                None => HashMap::new(),
                Some(Json::Object(m)) => decode_fields(m)?,
                Some(_) => return Err("mapValue.fields: not an object".into()),
            },
        }),
        other => return Err(format!("unknown value type {other}: {v}")),
    };
    Ok(pb::Value {
        value_type: Some(t),
    })
}

fn string<'a>(x: &'a Json, kind: &str) -> Result<&'a str, String> {
    x.as_str().ok_or_else(|| format!("{kind}: not a string"))
}

fn encode_double(d: f64) -> Json {
    match serde_json::Number::from_f64(d) {
        Some(n) => Json::Number(n),
        // Only NaN and the infinities have no JSON number.
        None if d.is_nan() => json!("NaN"),
        None if d > 0.0 => json!("Infinity"),
        None => json!("-Infinity"),
    }
}

fn decode_double(x: &Json) -> Result<f64, String> {
    match x {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("not a double: {n}")),
        Json::String(s) if s == "NaN" => Ok(f64::NAN),
        Json::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Json::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        other => Err(format!("not a double: {other}")),
    }
}

/// REST writes int64 as a string; a number is accepted too when it is an
/// exact integer.
fn decode_integer(x: &Json) -> Result<i64, String> {
    match x {
        Json::String(s) => s.parse().map_err(|e| format!("integerValue {s:?}: {e}")),
        Json::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("integerValue {n}: not an i64")),
        other => Err(format!("integerValue: not an integer: {other}")),
    }
}

/// RFC 3339 in UTC with as many fractional digits as it needs (up to 9).
/// Through a civil date and time, not `jiff::Timestamp`, whose range ends
/// 26 hours before Firestore's (9999-12-31T23:59:59.999999999Z).
pub(super) fn encode_time(t: &Timestamp) -> Result<String, String> {
    let bad = |e: &dyn std::fmt::Display| format!("timestamp {}.{:09}: {e}", t.seconds, t.nanos);
    let (days, second_of_day) = (t.seconds.div_euclid(86_400), t.seconds.rem_euclid(86_400));
    let date = (epoch().checked_add(jiff::Span::new().try_days(days).map_err(|e| bad(&e))?))
        .map_err(|e| bad(&e))?;
    // rem_euclid is in 0..86_400, so each part fits an i8.
    let (h, m, s) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let time = jiff::civil::Time::new(h as i8, m as i8, s as i8, t.nanos).map_err(|e| bad(&e))?;
    Ok(format!("{}Z", date.to_datetime(time)))
}

/// Reads what [`encode_time`] writes; other RFC 3339 forms (an offset
/// instead of `Z`) through `jiff::Timestamp`.
pub(super) fn decode_time(x: &Json) -> Result<Timestamp, String> {
    let s = x.as_str().ok_or("timestampValue: not a string")?;
    let bad = |e: &dyn std::fmt::Display| format!("timestamp {s:?}: {e}");
    let Some(utc) = s.strip_suffix('Z') else {
        let t: jiff::Timestamp = s.parse().map_err(|e| bad(&e))?;
        return Ok(crate::store::pb_time(crate::model::Time(t)));
    };
    let dt: jiff::civil::DateTime = utc.parse().map_err(|e| bad(&e))?;
    let days = i64::from(dt.date().since(epoch()).map_err(|e| bad(&e))?.get_days());
    let t = dt.time();
    let second_of_day =
        i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second());
    Ok(Timestamp {
        seconds: days * 86_400 + second_of_day,
        nanos: t.subsec_nanosecond(),
    })
}

fn epoch() -> jiff::civil::Date {
    jiff::civil::date(1970, 1, 1)
}

#[cfg(test)]
#[path = "encoding_tests.rs"]
mod tests;
