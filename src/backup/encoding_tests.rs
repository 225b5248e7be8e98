use super::*;
use proptest::prelude::*;

fn v(t: V) -> pb::Value {
    pb::Value {
        value_type: Some(t),
    }
}

/// Through the text of a file, as a backup and a restore see it.
fn round_trip(value: &pb::Value) -> pb::Value {
    let text = encode(value).expect("encodes").to_string();
    decode(&serde_json::from_str(&text).expect("JSON")).expect("decodes")
}

fn time(seconds: i64, nanos: i32) -> pb::Value {
    v(V::TimestampValue(Timestamp { seconds, nanos }))
}

#[test]
fn every_value_type_comes_back_as_it_was() {
    let mut inner = HashMap::new();
    inner.insert("n".to_string(), v(V::IntegerValue(i64::MIN)));
    inner.insert("empty".to_string(), v(V::MapValue(pb::MapValue::default())));
    let values = [
        v(V::NullValue(0)),
        v(V::BooleanValue(true)),
        v(V::IntegerValue(i64::MAX)),
        v(V::IntegerValue(-7)),
        v(V::DoubleValue(0.1 + 0.2)),
        v(V::DoubleValue(3.0)),
        v(V::DoubleValue(f64::MIN_POSITIVE)),
        v(V::DoubleValue(f64::INFINITY)),
        v(V::DoubleValue(f64::NEG_INFINITY)),
        time(1_796_571_274, 461_594_123),
        time(-1, 500_000_000),
        time(-62_135_596_800, 0),
        time(253_402_300_799, 999_999_999),
        v(V::StringValue("ü \"quoted\"\n".into())),
        v(V::BytesValue(vec![0, 255, 1, 2])),
        v(V::ReferenceValue(
            "projects/p/databases/d/documents/a/b".into(),
        )),
        v(V::GeoPointValue(LatLng {
            latitude: -33.86,
            longitude: 151.2,
        })),
        v(V::ArrayValue(pb::ArrayValue {
            values: vec![v(V::IntegerValue(1)), v(V::DoubleValue(1.0))],
        })),
        v(V::ArrayValue(pb::ArrayValue::default())),
        v(V::MapValue(pb::MapValue { fields: inner })),
    ];
    for value in values {
        assert_eq!(round_trip(&value), value);
    }
}

#[test]
fn an_integer_and_a_double_of_the_same_number_stay_apart() {
    assert_eq!(
        encode(&v(V::IntegerValue(3))).expect("encodes"),
        json!({"integerValue": "3"})
    );
    assert_eq!(round_trip(&v(V::DoubleValue(3.0))), v(V::DoubleValue(3.0)));
}

#[test]
fn nan_and_negative_zero_keep_their_bits() {
    for d in [f64::NAN, -0.0] {
        let Some(V::DoubleValue(back)) = round_trip(&v(V::DoubleValue(d))).value_type else {
            panic!("a double comes back a double");
        };
        assert_eq!(back.to_bits(), d.to_bits());
    }
}

#[test]
fn values_that_are_not_typed_are_refused_with_the_field() {
    for bad in [
        json!({"x": 1}),
        json!({"x": {"integerValue": "1.5"}}),
        json!({"x": {"integerValue": "1", "stringValue": "a"}}),
        json!({"x": {"bytesValue": "@@"}}),
        json!({"x": {"timestampValue": "yesterday"}}),
        json!({"x": {"mapValue": {"fields": {"y": {"sizeValue": 1}}}}}),
    ] {
        let err = decode_fields(bad.as_object().expect("an object")).expect_err("refused");
        assert!(err.starts_with("x: "), "{err}");
    }
}

#[test]
fn an_offset_is_read_as_the_same_instant() {
    for (text, seconds, nanos) in [
        ("1970-01-01T01:00:00.5+01:00", 0, 500_000_000),
        ("1969-12-31T23:59:59.5-00:00", -1, 500_000_000),
    ] {
        assert_eq!(decode_time(&json!(text)), Ok(Timestamp { seconds, nanos }));
    }
}

proptest! {
    #[test]
    fn any_double_keeps_its_bits(d in any::<f64>().prop_filter("NaN has its own test", |d| !d.is_nan())) {
        let Some(V::DoubleValue(back)) = round_trip(&v(V::DoubleValue(d))).value_type else {
            panic!("a double comes back a double");
        };
        prop_assert_eq!(back.to_bits(), d.to_bits());
    }

    #[test]
    fn any_timestamp_firestore_allows_keeps_every_nanosecond(
        seconds in -62_135_596_800i64..=253_402_300_799,
        nanos in 0i32..1_000_000_000,
    ) {
        prop_assert_eq!(round_trip(&time(seconds, nanos)), time(seconds, nanos));
    }
}
