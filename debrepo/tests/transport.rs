//! The transport against a loopback server with injected faults.

use std::time::Duration;

use debrepo::transport::{FetchError, Transport, TransportOptions};
use testkit::http::{Fault, Server};
use testkit::TempDir;

fn fast() -> TransportOptions {
    TransportOptions {
        retries: 3,
        backoff: Duration::from_millis(10),
        stall_timeout: Duration::from_millis(500),
        ..TransportOptions::default()
    }
}

fn setup() -> (TempDir, Server, Vec<u8>) {
    let dir = TempDir::new("transport");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("file.bin"), &data).unwrap();
    let server = Server::serve_dir(dir.path());
    (dir, server, data)
}

#[tokio::test]
async fn plain_get_and_missing_files() {
    let (_d, server, data) = setup();
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(
        t.get_optional(&format!("{}/nope", server.url()))
            .await
            .unwrap(),
        None
    );
    let e = t.get(&format!("{}/nope", server.url())).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}/nope: not found (HTTP 404)", server.url())
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::Status(500));
    server.fault("/file.bin", Fault::Status(503));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(server.hits("/file.bin"), 3);
}

#[tokio::test]
async fn retries_run_out_with_a_clear_error() {
    let (_d, server, _) = setup();
    for _ in 0..4 {
        server.fault("/file.bin", Fault::Status(502));
    }
    let t = Transport::new(fast()).unwrap();
    let e = t
        .get(&format!("{}/file.bin", server.url()))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}/file.bin: the server answered HTTP 502", server.url())
    );
    assert_eq!(server.hits("/file.bin"), 4);
    // Client errors are not retried.
    server.fault("/file.bin", Fault::Status(403));
    assert!(matches!(
        t.get(&format!("{}/file.bin", server.url())).await,
        Err(FetchError::Denied { status: 403, .. })
    ));
    assert_eq!(server.hits("/file.bin"), 5);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::RetryAfter(1));
    let t = Transport::new(fast()).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    // The backoff alone would be 10 ms.
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.hits("/file.bin"), 2);
}

#[tokio::test]
async fn interrupted_download_resumes_with_range() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::DropAfter(100_000));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let range = reqs[1].range.as_deref().unwrap();
    let from: usize = range
        .strip_prefix("bytes=")
        .unwrap()
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 100_000, "{range}");
    assert_eq!(reqs[1].status, 206);
}

#[tokio::test]
async fn without_range_support_the_download_restarts() {
    let (_d, server, data) = setup();
    server.without_ranges();
    server.fault("/file.bin", Fault::DropAfter(100_000));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(server.requests()[1].status, 200);
}

#[tokio::test]
async fn stalled_body_times_out_and_is_retried() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::Stall(50_000, Duration::from_secs(3)));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(server.hits("/file.bin"), 2);
    // With no retries left the stall is the error.
    server.fault("/file.bin", Fault::Stall(10, Duration::from_secs(3)));
    let t = Transport::new(TransportOptions {
        retries: 0,
        ..fast()
    })
    .unwrap();
    let e = t
        .get(&format!("{}/file.bin", server.url()))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Stalled { .. }), "{e}");
}

#[tokio::test]
async fn size_limit_and_local_files() {
    let (dir, server, data) = setup();
    let t = Transport::new(fast()).unwrap();
    let mut sink = Vec::new();
    let e = t
        .fetch(&format!("{}/file.bin", server.url()), &mut sink, Some(1000))
        .await
        .unwrap_err();
    // The real figures: the expected size, and what had come when the
    // download was stopped (more than expected, no more than was sent).
    let FetchError::TooLarge {
        limit, received, ..
    } = e
    else {
        panic!("{e}")
    };
    assert_eq!(limit, 1000);
    assert!(
        received > 1000 && received <= data.len() as u64,
        "{received}"
    );
    assert!(sink.len() as u64 <= 1000, "the sink never went over");
    let path = dir.path().join("file.bin");
    assert_eq!(
        t.get(&format!("file://{}", path.display())).await.unwrap(),
        data
    );
    assert_eq!(t.get(path.to_str().unwrap()).await.unwrap(), data);
    assert_eq!(
        t.get_optional(&format!("file://{}/missing", dir.path().display()))
            .await
            .unwrap(),
        None
    );
    let e = t.get("ftp://127.0.0.1/x").await.unwrap_err();
    assert!(
        e.to_string().contains("not a URL this tool can fetch"),
        "{e}"
    );
}

#[tokio::test]
async fn many_downloads_at_once() {
    let (_d, server, data) = setup();
    let t = Transport::new(TransportOptions {
        downloads: 4,
        per_host: 2,
        ..fast()
    })
    .unwrap();
    let url = format!("{}/file.bin", server.url());
    let all = futures_join(&t, &url, 16).await;
    assert!(all.iter().all(|d| *d == data));
    assert_eq!(server.hits("/file.bin"), 16);
}

/// By default at most four connections to one host at a time: a small
/// server (Python's `http.server` queues 5) drops connection attempts
/// beyond its queue, and each dropped one costs a second.
#[tokio::test]
async fn at_most_four_connections_to_one_host_by_default() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), max.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let (n, m) = (n.clone(), m.clone());
            std::thread::spawn(move || {
                let open = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(open, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                std::thread::sleep(Duration::from_millis(100));
                n.fetch_sub(1, Ordering::SeqCst);
                // HTTP/1.0 and closed, as http.server answers.
                let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
            });
        }
    });
    let t = Transport::new(TransportOptions::default()).unwrap();
    let all = futures_join(&t, &url, 16).await;
    assert!(all.iter().all(|d| d == b"ok"));
    let max = max.load(Ordering::SeqCst);
    assert!((2..=4).contains(&max), "{max} connections at once");
}

async fn futures_join(t: &Transport, url: &str, n: usize) -> Vec<Vec<u8>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (t, url) = (t.clone(), url.to_owned());
        set.spawn(async move { t.get(&url).await.unwrap() });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test]
async fn a_wrong_range_on_resume_restarts_the_download() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::DropAfter(100_000));
    server.fault("/file.bin", Fault::WrongRange);
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[1].range.is_some() && reqs[2].range.is_none(),
        "{reqs:?}"
    );
}

/// The default options, whose five retries take 15.5 s: what must not be
/// spent on a failure a retry meets again.
fn default_retries() -> TransportOptions {
    TransportOptions {
        retries: 5,
        backoff: Duration::from_millis(500),
        ..TransportOptions::default()
    }
}

#[tokio::test]
async fn a_refused_connection_is_not_retried() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Transport::new(default_retries()).unwrap();
    let start = std::time::Instant::now();
    let e = t
        .get(&format!("http://127.0.0.1:{port}/file.bin"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Network { .. }), "{e}");
    // The first retry alone would wait 500 ms.
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_dropped_connection_is_still_retried() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::DropAfter(0));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(server.hits("/file.bin"), 2);
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_resumed() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::ShortBy(100));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(
        reqs[1].range.as_deref(),
        Some(format!("bytes={}-", data.len() - 100).as_str())
    );
    assert_eq!(reqs[1].status, 206);
}

#[tokio::test]
async fn a_complete_looking_but_short_answer_is_resumed() {
    // Chunked and properly terminated, so the HTTP layer sees a whole
    // answer; its Content-Length says 100 bytes are missing.
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::ShortChunked(100));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(
        reqs[1].range.as_deref(),
        Some(format!("bytes={}-", data.len() - 100).as_str())
    );
    // Without Range support it starts again from zero.
    let (_d, server, data) = setup();
    server.without_ranges();
    server.fault("/file.bin", Fault::ShortChunked(100));
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    assert_eq!(server.requests()[1].status, 200);
}

#[tokio::test]
async fn a_short_body_that_stays_short_is_an_error_with_the_true_counts() {
    let (_d, server, data) = setup();
    for _ in 0..20 {
        server.fault("/file.bin", Fault::ShortChunked(100));
    }
    server.without_ranges();
    let t = Transport::new(fast()).unwrap();
    let url = format!("{}/file.bin", server.url());
    let e = t.get(&url).await.unwrap_err();
    let FetchError::Truncated {
        expected, received, ..
    } = e
    else {
        panic!("{e}")
    };
    assert_eq!(
        (expected, received),
        (data.len() as u64, data.len() as u64 - 100)
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{url}: the transfer ended early: {} of {} bytes received",
            data.len() - 100,
            data.len()
        )
    );
    // Every attempt was made: 1 + 3 retries.
    assert_eq!(server.hits("/file.bin"), 4);
}

#[tokio::test]
async fn a_file_served_short_of_its_expected_size_is_retried() {
    // The answer is consistent (Content-Length = body) but shorter than
    // the size the caller knows: the resume finds the rest.
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::Truncated(100));
    let t = Transport::new(fast()).unwrap();
    let url = format!("{}/file.bin", server.url());
    let mut buf = Vec::new();
    t.fetch_sized(&url, &mut buf, data.len() as u64)
        .await
        .unwrap();
    assert_eq!(buf, data);
    assert_eq!(server.hits("/file.bin"), 2);
    // Served short every time: a Range past its end (416) starts again
    // from zero; when the retries run out the error gives the figures.
    for _ in 0..20 {
        server.fault("/file.bin", Fault::Truncated(100));
    }
    let mut buf = Vec::new();
    let e = t
        .fetch_sized(&url, &mut buf, data.len() as u64)
        .await
        .unwrap_err();
    assert!(
        e.to_string().ends_with(&format!(
            "the transfer ended early: {} of {} bytes received",
            data.len() - 100,
            data.len()
        )),
        "{e}"
    );
    // A plain get takes a consistent answer as the whole file.
    server.fault("/file.bin", Fault::Truncated(100));
    assert_eq!(t.get(&url).await.unwrap().len(), data.len() - 100);
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_is_an_error() {
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::LongChunked(50));
    let t = Transport::new(fast()).unwrap();
    let url = format!("{}/file.bin", server.url());
    let e = t.get(&url).await.unwrap_err();
    let FetchError::LongerThanDeclared {
        declared, received, ..
    } = e
    else {
        panic!("{e}")
    };
    assert_eq!(declared, data.len() as u64);
    assert!(
        received > declared && received <= declared + 50,
        "{received}"
    );
    assert!(
        e.to_string()
            .contains(&format!("more than the {} bytes it declared", data.len())),
        "{e}"
    );
    // Not retried: the same server would send the same.
    assert_eq!(server.hits("/file.bin"), 1);
}

#[tokio::test]
async fn a_resume_past_the_servers_end_starts_again() {
    // Short of its Content-Length, then the server has less than what was
    // received (416 to the Range): dropped, fetched again from zero.
    let (_d, server, data) = setup();
    server.fault("/file.bin", Fault::ShortChunked(100));
    server.fault("/file.bin", Fault::Truncated(200));
    let t = Transport::new(fast()).unwrap();
    assert_eq!(
        t.get(&format!("{}/file.bin", server.url())).await.unwrap(),
        data
    );
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 416, 200]);
}
