//! Turning byte streams (HTTP bodies, process output) into lines.

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Longest line kept whole; longer lines are cut (and marked) so one runaway
/// line cannot eat the buffer.
pub const MAX_LINE: usize = 16 * 1024;

/// Split a stream of byte chunks into lines (lossy UTF-8, `\r\n` handled).
pub fn split_lines<S, E>(chunks: S) -> impl Stream<Item = Result<String, E>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    futures::stream::unfold(
        (
            Box::pin(chunks),
            Vec::<u8>::new(),
            std::collections::VecDeque::<String>::new(),
            false,
        ),
        |(mut chunks, mut pending, mut ready, mut done)| async move {
            loop {
                if let Some(line) = ready.pop_front() {
                    return Some((Ok(line), (chunks, pending, ready, done)));
                }
                if done {
                    if pending.is_empty() {
                        return None;
                    }
                    let line = finish(std::mem::take(&mut pending));
                    return Some((Ok(line), (chunks, pending, ready, done)));
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => {
                        for &b in bytes.iter() {
                            if b == b'\n' {
                                ready.push_back(finish(std::mem::take(&mut pending)));
                            } else if pending.len() < MAX_LINE {
                                pending.push(b);
                            }
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (chunks, pending, ready, true))),
                    None => done = true,
                }
            }
        },
    )
}

/// The lines of a pipe (a child's stdout or stderr) until it closes: read
/// as bytes, so output that is not UTF-8 never stops the reader (which would
/// leave the pipe full and the child blocked); invalid bytes are replaced and
/// lines over [`MAX_LINE`] cut.
pub fn pipe_lines<R>(reader: R) -> futures::stream::BoxStream<'static, String>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    use tokio::io::AsyncBufReadExt;
    let reader = tokio::io::BufReader::new(reader);
    futures::stream::unfold(reader, |mut reader| async move {
        let mut buf = Vec::new();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                buf.truncate(MAX_LINE);
                Some((finish(buf), reader))
            }
        }
    })
    .boxed()
}

fn finish(mut bytes: Vec<u8>) -> String {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let cut = bytes.len() >= MAX_LINE;
    let mut line = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        line.push_str(" …[line cut at 16 KiB]");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_across_chunks_and_keeps_the_tail() {
        let chunks = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"one\r\ntw")),
            Ok(Bytes::from_static(b"o\nthree")),
        ]);
        let lines: Vec<String> = split_lines::<_, std::io::Error>(chunks)
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines, vec!["one", "two", "three"]);
    }
}
