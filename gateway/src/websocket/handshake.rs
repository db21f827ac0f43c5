//! The opening handshake (RFC 6455 §4.2): check the upgrade request and answer it with 101.

use salvo::http::headers::{Connection, HeaderMapExt, SecWebsocketAccept, SecWebsocketKey, Upgrade};
use salvo::http::{Method, StatusCode, StatusError};
use salvo::hyper::upgrade::OnUpgrade;

/// Check an upgrade request and answer it with 101; the returned future resolves to the
/// connection once the response is out.
pub fn accept(req: &mut salvo::Request, res: &mut salvo::Response) -> Result<OnUpgrade, StatusError> {
    let refuse = |brief: &str| StatusError::bad_request().brief(brief.to_owned());
    if req.method() != Method::GET {
        return Err(refuse("a WebSocket handshake is a GET request"));
    }
    let headers = req.headers();
    if !headers.typed_get::<Connection>().is_some_and(|c| c.contains("upgrade")) {
        return Err(refuse("missing \"Connection: upgrade\""));
    }
    let upgrade = headers.get("upgrade").and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(refuse("missing \"Upgrade: websocket\""));
    }
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return Err(refuse("only WebSocket version 13 is spoken"));
    }
    let Some(key) = headers.typed_get::<SecWebsocketKey>() else {
        return Err(refuse("missing Sec-WebSocket-Key"));
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse("this connection cannot be upgraded"));
    };
    // Quiet stretches are normal on a WebSocket: loosen the server's idle fuse for this one.
    if let Some(ctrl) = req.extensions().get::<salvo::ConnCtrl>() {
        ctrl.relax_timeouts();
    }
    res.status_code(StatusCode::SWITCHING_PROTOCOLS);
    res.headers_mut().typed_insert(Connection::upgrade());
    res.headers_mut().typed_insert(Upgrade::websocket());
    res.headers_mut().typed_insert(SecWebsocketAccept::from(key));
    Ok(on_upgrade)
}
