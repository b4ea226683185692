//! Reading an HTTP answer's body with a byte cap while it streams, so a
//! hostile or broken endpoint cannot make shipdeck buffer without bound.

/// An answer body read up to a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    /// At most the cap's worth of bytes.
    pub bytes: Vec<u8>,
    /// The answer went on past the cap (the rest was not read).
    pub cut: bool,
}

/// Read `resp`'s body chunk by chunk, stopping once `cap` bytes are in.
pub async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Capped, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Capped { bytes, cut: true });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Capped { bytes, cut: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on loopback that answers `body_len` bytes of `x`, chunked.
    async fn serve(body_len: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = sock.read(&mut req).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = body_len;
            while left > 0 {
                let n = left.min(chunk.len());
                let head = format!("{n:x}\r\n");
                if sock.write_all(head.as_bytes()).await.is_err()
                    || sock.write_all(&chunk[..n]).await.is_err()
                    || sock.write_all(b"\r\n").await.is_err()
                {
                    return;
                }
                left -= n;
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn stops_reading_at_the_cap() {
        let url = serve(50 * 1024 * 1024).await;
        let resp = reqwest::get(&url).await.unwrap();
        let got = read_capped(resp, 100_000).await.unwrap();
        assert_eq!(got.bytes.len(), 100_000);
        assert!(got.cut);
        let url = serve(1000).await;
        let got = read_capped(reqwest::get(&url).await.unwrap(), 100_000)
            .await
            .unwrap();
        assert_eq!((got.bytes.len(), got.cut), (1000, false));
    }
}
