//! Unsigned tokens, for the emulators only: they let tests, the demo and
//! local enrolment run without a service account key. Production Firebase
//! refuses them because they carry no signature.

use super::{CUSTOM_TOKEN_AUDIENCE, check_uid, unix_now};
use crate::error::Result;
use serde_json::{Map, Value, json};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An unsigned ID token the Firestore emulator accepts as user `uid` of
/// `project` with `claims` (custom claims; reserved names are overwritten).
/// Valid for an hour. Production Firestore refuses it (no signature).
pub fn emulator_token(project: &str, uid: &str, claims: &Map<String, Value>) -> String {
    let now = unix_now();
    let mut payload = claims.clone();
    let standard = json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
    });
    if let Value::Object(std) = standard {
        payload.extend(std);
    }
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    // A map of JSON values always serializes.
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    format!("{header}.{}.", b64(&body))
}

/// An unsigned custom token, which only the Auth emulator accepts: lets
/// tests and local enrolment run without a service account key.
pub fn unsigned_custom_token(uid: &str, claims: &Map<String, Value>) -> Result<String> {
    check_uid(uid)?;
    let now = unix_now();
    let mut payload = json!({
        "iss": "vayu-emulator@demo.iam.gserviceaccount.com",
        "sub": "vayu-emulator@demo.iam.gserviceaccount.com",
        "aud": CUSTOM_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "uid": uid,
    });
    if !claims.is_empty() {
        payload["claims"] = Value::Object(claims.clone());
    }
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    Ok(format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&body)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::agent_claims;
    use crate::identity::auth::jwt_claims;

    #[test]
    fn emulator_tokens_name_the_user_and_carry_the_claims() {
        let t = emulator_token("demo-vayu", "a1", &agent_claims());
        let c = jwt_claims(&t).expect("a JWT");
        assert_eq!(c["user_id"], "a1");
        assert_eq!(c["sub"], "a1");
        assert_eq!(c["aud"], "demo-vayu");
        assert_eq!(c["iss"], "https://securetoken.google.com/demo-vayu");
        assert_eq!(c["agent"], true);
        assert_eq!(c["firebase"]["sign_in_provider"], "custom");
        assert!(t.ends_with('.'), "unsigned: empty signature");
    }

    #[test]
    fn custom_claims_cannot_override_the_user() {
        let mut claims = agent_claims();
        claims.insert("user_id".into(), "someone-else".into());
        let c = jwt_claims(&emulator_token("p", "me", &claims)).expect("a JWT");
        assert_eq!(c["user_id"], "me");
    }
}
