//! Parsing a text frame into a [`ClientFrame`], and saying what is wrong with one that fails.

use protocol::frames::CLIENT_FRAME_TYPES;
use protocol::{ClientFrame, ErrorCode};

/// Parse a text frame: not JSON or no `type` is `bad_frame`, an unknown `type` is
/// `unknown_type`, a known one with missing or mistyped fields is `bad_frame`.
pub(super) fn parse(text: &str) -> Result<ClientFrame, (ErrorCode, String)> {
    // Well-formed frames, nearly all of them, are parsed once; only a frame that fails is
    // parsed again, loosely, to say what is wrong with it.
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        return Ok(frame);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| (ErrorCode::BadFrame, format!("frames are JSON objects with a \"type\" field ({e})")))?;
    let kind = value
        .as_object()
        .ok_or_else(|| (ErrorCode::BadFrame, "frames are JSON objects with a \"type\" field".to_owned()))?
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| (ErrorCode::BadFrame, "the frame has no string \"type\" field".to_owned()))?
        .to_owned();
    if !CLIENT_FRAME_TYPES.contains(&kind.as_str()) {
        let shown: String = kind.chars().take(40).collect();
        return Err((ErrorCode::UnknownType, format!("unknown frame type {shown:?}")));
    }
    serde_json::from_value(value).map_err(|e| (ErrorCode::BadFrame, format!("bad \"{kind}\" frame: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_classified() {
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping {})));
        assert_eq!(parse("nope").unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse("[1]").unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse(r#"{"text":"x"}"#).unwrap_err().0, ErrorCode::BadFrame);
        assert_eq!(parse(r#"{"type":"dance"}"#).unwrap_err().0, ErrorCode::UnknownType);
        let (code, message) = parse(r#"{"type":"join","room":"lobby"}"#).unwrap_err();
        assert_eq!(code, ErrorCode::BadFrame);
        assert!(message.contains("nick"), "{message}");
        assert_eq!(parse(r#"{"type":"join","room":"a","nick":"b","since":"x"}"#).unwrap_err().0, ErrorCode::BadFrame);
    }
}
