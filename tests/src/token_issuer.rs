//! A token issuer for the test registry: what auth.docker.io is to Docker Hub.
//!
//! A registry configured for token authentication answers an anonymous request
//! with `401` and `WWW-Authenticate: Bearer realm="...",service="...",scope="..."`.
//! The client asks the realm (this issuer) for a token with that service and scope,
//! and repeats its request with `Authorization: Bearer TOKEN`. The registry never
//! talks to the issuer: it checks the token's signature against a certificate it
//! was configured with (`auth.token.rootcertbundle`), its issuer, audience (the
//! service), lifetime, and the access it grants.
//!
//! The token is a JWT signed with ES256 whose header carries the issuer's
//! certificate (`x5c`), as docker-registry 2.8 accepts. This issuer grants every
//! repository asked for, anonymously, but those in its `denied` list (answered
//! 403), and records each request so a check can see what the client asked.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

/// The `service` and JWT audience the registry and the issuer agree on.
pub const SERVICE: &str = "workshop-registry";
/// The JWT issuer (`iss`) the registry trusts.
pub const ISSUER: &str = "workshop-token-issuer";

/// One request for a token, as the issuer received it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The `service` query parameter.
    pub service: Option<String>,
    /// The `scope` query parameters, e.g. "repository:workshop/app:pull".
    pub scopes: Vec<String>,
    /// Whether the request carried credentials (an Authorization header).
    pub with_credentials: bool,
}

/// A running token issuer on 127.0.0.1. Its thread ends with the test process
/// (it holds no file or process outside it).
pub struct TokenIssuer {
    port: u16,
    certificate_pem: String,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenIssuer {
    /// Makes a key and a self-signed certificate, and starts answering on a free
    /// loopback port. Tokens are refused (403) for the repositories in `denied`.
    pub fn start(denied: &[&str]) -> TokenIssuer {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let certificate = rcgen::CertificateParams::new(vec![ISSUER.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let signer = Signer {
            key: EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &key.serialize_der(),
                &SystemRandom::new(),
            )
            .unwrap(),
            certificate_der: certificate.der().to_vec(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let denied: Vec<String> = denied.iter().map(|r| r.to_string()).collect();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &signer, &denied, &recorded);
            }
        });
        TokenIssuer {
            port,
            certificate_pem: certificate.pem(),
            requests,
        }
    }

    /// The realm the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// Writes the certificate the registry checks tokens against to `path`.
    pub fn write_certificate(&self, path: &Path) {
        std::fs::write(path, &self.certificate_pem).unwrap();
    }

    /// Every token request received so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

struct Signer {
    key: EcdsaKeyPair,
    certificate_der: Vec<u8>,
}

impl Signer {
    /// A JWT granting `access`, valid for five minutes.
    fn token(&self, access: serde_json::Value) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.certificate_der)]});
        let claims = json!({
            "iss": ISSUER, "sub": "", "aud": SERVICE,
            "iat": now, "nbf": now - 10, "exp": now + 300,
            "jti": format!("{now}-{}", std::process::id()),
            "access": access,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// Answers one HTTP request: `GET /token?service=...&scope=...`.
fn answer(
    stream: TcpStream,
    signer: &Signer,
    denied: &[String],
    requests: &Mutex<Vec<TokenRequest>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut with_credentials = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        with_credentials |= header.to_ascii_lowercase().starts_with("authorization:");
    }
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let url = query_parameters(target);
    let request = TokenRequest {
        service: url.iter().find(|(k, _)| k == "service").map(|(_, v)| v.clone()),
        scopes: url
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
        with_credentials,
    };
    requests.lock().unwrap().push(request.clone());

    let mut access = Vec::new();
    for scope in &request.scopes {
        // repository:NAME:ACTIONS (NAME has no ':'; a registry host with a port never appears here)
        let parts: Vec<&str> = scope.splitn(3, ':').collect();
        if let [kind, name, actions] = parts[..] {
            if denied.iter().any(|d| d == name) {
                return respond(
                    stream,
                    "403 Forbidden",
                    r#"{"details":"access to this repository is denied"}"#,
                );
            }
            access.push(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}));
        }
    }
    let body = json!({"token": signer.token(json!(access))}).to_string();
    respond(stream, "200 OK", &body)
}

fn respond(mut stream: TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The query parameters of a request target ("/token?a=1&b=2"), percent-decoded.
fn query_parameters(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
