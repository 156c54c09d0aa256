//! A registry that lies: a tiny HTTP server on 127.0.0.1 answering /v2/ as a
//! registry does, and serving manifests no real registry would (a media type the
//! runtime does not know, a manifest of megabytes). Anything else is a 404.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A manifest the fake registry serves: its repository, media type and body.
#[derive(Clone)]
pub struct Served {
    pub repository: String,
    pub media_type: String,
    pub body: Vec<u8>,
}

pub struct FakeRegistry {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    pub fn serving(manifests: Vec<Served>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = answer(stream, &manifests);
                }
            }
        });
        FakeRegistry {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// "127.0.0.1:PORT".
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Reads one request and answers it (Connection: close).
fn answer(mut stream: TcpStream, manifests: &[Served]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("");
    let (status, media_type, body): (&str, &str, Vec<u8>) = if path == "/v2/" {
        ("200 OK", "application/json", b"{}".to_vec())
    } else if let Some(served) = manifests
        .iter()
        .find(|m| path.starts_with(&format!("/v2/{}/manifests/", m.repository)))
    {
        ("200 OK", served.media_type.as_str(), served.body.clone())
    } else {
        (
            "404 Not Found",
            "application/json",
            br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#.to_vec(),
        )
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\nContent-Length: {}\r\n\
         Docker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    // The client may hang up early (an oversized manifest): that is fine.
    let _ = stream.write_all(&body);
    Ok(())
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes accept()
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
