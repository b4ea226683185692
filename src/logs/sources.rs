//! Log tails from places other than a provider API: any command's output
//! (`journalctl -f`, `docker logs -f`, either of them over `ssh`) and a file
//! followed across rotation and truncation, like `tail -F`.
//!
//! Lines are yielded raw (lossy UTF-8, line endings stripped, over-long lines
//! cut); the caller sanitises them when drawing.

use crate::config::LogSourceConfig;
use std::collections::VecDeque;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio::process::{Child, ChildStderr, ChildStdout};

/// Longest line kept whole, in bytes; longer lines are cut and marked with
/// [`CUT_MARK`].
pub const MAX_LINE: usize = 16 * 1024;

/// Appended to a line that was longer than [`MAX_LINE`] and got cut.
pub const CUT_MARK: &str = " …[cut]";

/// How many lines of history the journald and docker presets (and the shell
/// equivalent of a file source) ask for.
const PRESET_BACKLOG: &str = "200";

/// How often a followed file is checked for new bytes, rotation or appearance.
const FILE_POLL: Duration = Duration::from_millis(200);

/// After a command has exited, how long to keep waiting for more output from
/// its pipes (a grandchild may hold them open) before giving up on them.
const EXIT_DRAIN: Duration = Duration::from_secs(1);

/// Size of one read from a pipe or a file, and of one backwards step when
/// looking for the start of a file's backlog.
const CHUNK: usize = 64 * 1024;

/// Where a service's log lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A program's stdout and stderr, line by line.
    Command {
        /// The program to run, looked up on `PATH` unless it contains a `/`.
        program: String,
        /// Its arguments, passed as they are (no shell is involved).
        args: Vec<String>,
    },
    /// A file, followed across rotation and truncation.
    File {
        /// The file's path.
        path: PathBuf,
    },
}

impl SourceSpec {
    /// `journalctl -u UNIT -o json -f -n 200`, optionally run on `ssh` host
    /// (`ssh -o BatchMode=yes HOST journalctl ...`).
    ///
    /// Over ssh the remote words are quoted for the remote shell where needed,
    /// since ssh hands them to it joined by spaces.
    pub fn journald(unit: &str, ssh: Option<&str>) -> SourceSpec {
        let args = ["-u", unit, "-o", "json", "-f", "-n", PRESET_BACKLOG];
        remote_or_local("journalctl", &args, ssh)
    }

    /// `docker logs -f --tail 200 NAME`, optionally over ssh (see
    /// [`SourceSpec::journald`]).
    pub fn docker(container: &str, ssh: Option<&str>) -> SourceSpec {
        let args = ["logs", "-f", "--tail", PRESET_BACKLOG, container];
        remote_or_local("docker", &args, ssh)
    }

    /// Split a shell-like command line (whitespace, single and double quotes,
    /// backslash escapes; NO shell expansion) into program + args; error on
    /// an unterminated quote or an empty command.
    pub fn command(line: &str) -> Result<SourceSpec, SourceError> {
        let (program, args) =
            crate::shell::parse_command(line).map_err(|e| SourceError::Spec(e.to_string()))?;
        Ok(SourceSpec::Command { program, args })
    }

    /// The equivalent command a user could paste into a shell, with arguments
    /// quoted where needed (`tail -F -n 200 '/var/log/my app.log'` for files).
    pub fn shell_equivalent(&self) -> String {
        match self {
            SourceSpec::Command { program, args } => std::iter::once(program.as_str())
                .chain(args.iter().map(String::as_str))
                .map(crate::shell::quote)
                .collect::<Vec<_>>()
                .join(" "),
            SourceSpec::File { path } => format!(
                "tail -F -n {PRESET_BACKLOG} {}",
                crate::shell::quote(&path.to_string_lossy())
            ),
        }
    }
}

/// Why a source could not (or can no longer) give lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Bad spec (message says what and how to fix).
    #[error("{0}")]
    Spec(String),
    /// The program could not be started (e.g. not installed).
    #[error("could not start `{program}`: {reason} (is it installed and on PATH?)")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The program exited; carries its status and its last stderr line.
    #[error("`{program}` exited ({status}){}", stderr_suffix(.last_stderr))]
    Exited {
        /// The program that exited.
        program: String,
        /// Its exit status, e.g. `exit code 3` or `killed by signal 9`.
        status: String,
        /// The last non-blank line it wrote to stderr, if any.
        last_stderr: Option<String>,
    },
    /// The file could not be read (when missing, the reason says the source
    /// waits for it to appear).
    #[error("cannot read {}: {reason}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong, and what happens next.
        reason: String,
    },
}

fn stderr_suffix(last: &Option<String>) -> String {
    match last {
        Some(line) => format!(": {line}"),
        None => String::new(),
    }
}

/// Follow a source. The stream yields lines; errors are yielded as items (a
/// missing file yields one File error, then keeps waiting and resumes when it
/// appears; a command that exits yields Exited and the stream ends).
///
/// `backlog` is how many existing lines of a file to start with; a command
/// decides its own history (e.g. `-n 200`), so it is ignored there. Dropping
/// the stream kills a running command.
pub fn follow(spec: SourceSpec, backlog: usize) -> BoxStream<'static, Result<String, SourceError>> {
    match spec {
        SourceSpec::Command { program, args } => {
            futures::stream::unfold(CommandTail::new(program, args), |mut tail| async move {
                let item = tail.next_item().await?;
                Some((item, tail))
            })
            .boxed()
        }
        SourceSpec::File { path } => {
            futures::stream::unfold(FileTail::new(path, backlog), |mut tail| async move {
                let item = tail.next_item().await;
                Some((item, tail))
            })
            .boxed()
        }
    }
}

// ---------------------------------------------------------------------------
// Spec helpers

fn remote_or_local(program: &str, args: &[&str], ssh: Option<&str>) -> SourceSpec {
    match ssh {
        None => SourceSpec::Command {
            program: program.to_string(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
        },
        Some(host) => {
            let mut all = vec![
                "-o".to_string(),
                "BatchMode=yes".to_string(),
                host.to_string(),
                program.to_string(),
            ];
            all.extend(args.iter().map(|a| crate::shell::quote(a)));
            SourceSpec::Command {
                program: "ssh".to_string(),
                args: all,
            }
        }
    }
}

impl SourceSpec {
    /// The source a service's `logs = { … }` config names.
    pub fn from_config(cfg: &LogSourceConfig) -> Result<SourceSpec, SourceError> {
        let ssh = cfg.ssh.as_deref();
        match (&cfg.journald, &cfg.docker, &cfg.file, &cfg.command) {
            (Some(unit), None, None, None) => Ok(SourceSpec::journald(unit, ssh)),
            (None, Some(name), None, None) => Ok(SourceSpec::docker(name, ssh)),
            (None, None, Some(path), None) => Ok(SourceSpec::File { path: path.clone() }),
            (None, None, None, Some(cmd)) => SourceSpec::command(cmd),
            _ => Err(SourceError::Spec(
                "`logs` needs exactly one of journald, docker, file or command".into(),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Line splitting

/// Splits bytes into lines: `\n` ends a line, a trailing `\r` is dropped,
/// invalid UTF-8 is replaced and lines over [`MAX_LINE`] bytes are cut.
#[derive(Debug, Default)]
struct LineSplitter {
    pending: Vec<u8>,
    cut: bool,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(String)) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let newline = rest.iter().position(|&b| b == b'\n');
            let part = &rest[..newline.unwrap_or(rest.len())];
            let room = MAX_LINE.saturating_sub(self.pending.len());
            if part.len() > room {
                self.pending.extend_from_slice(&part[..room]);
                self.cut = true;
            } else {
                self.pending.extend_from_slice(part);
            }
            match newline {
                Some(i) => {
                    emit(self.take_line());
                    rest = &rest[i + 1..];
                }
                None => rest = &[],
            }
        }
    }

    /// The held partial line, if there is one (at end of input).
    fn finish(&mut self) -> Option<String> {
        if self.pending.is_empty() && !self.cut {
            None
        } else {
            Some(self.take_line())
        }
    }

    fn take_line(&mut self) -> String {
        let mut bytes = std::mem::take(&mut self.pending);
        let cut = std::mem::take(&mut self.cut);
        if cut {
            trim_partial_char(&mut bytes);
        } else if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let mut line = String::from_utf8_lossy(&bytes).into_owned();
        if cut {
            line.push_str(CUT_MARK);
        }
        line
    }
}

/// Drop a UTF-8 sequence that a cut left incomplete at the end of `bytes`.
fn trim_partial_char(bytes: &mut Vec<u8>) {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let b = bytes[len - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for the lead byte
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        if need > back {
            bytes.truncate(len - back);
        }
        return;
    }
}

// ---------------------------------------------------------------------------
// Command tails

enum Phase {
    NotStarted,
    Running,
    Done,
}

struct CommandTail {
    program: String,
    args: Vec<String>,
    phase: Phase,
    child: Option<Child>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out_lines: LineSplitter,
    err_lines: LineSplitter,
    ready: VecDeque<Result<String, SourceError>>,
    last_stderr: Option<String>,
    status: Option<String>,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
}

/// What woke a running command's tail up.
enum Event {
    Stdout(std::io::Result<usize>),
    Stderr(std::io::Result<usize>),
    Exited(String),
    Quiet,
}

impl CommandTail {
    fn new(program: String, args: Vec<String>) -> Self {
        CommandTail {
            program,
            args,
            phase: Phase::NotStarted,
            child: None,
            stdout: None,
            stderr: None,
            out_lines: LineSplitter::default(),
            err_lines: LineSplitter::default(),
            ready: VecDeque::new(),
            last_stderr: None,
            status: None,
            out_buf: vec![0u8; CHUNK],
            err_buf: vec![0u8; CHUNK],
        }
    }

    async fn next_item(&mut self) -> Option<Result<String, SourceError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            match self.phase {
                Phase::Done => return None,
                Phase::NotStarted => self.start(),
                Phase::Running => {
                    if self.stdout.is_none() && self.stderr.is_none() {
                        self.finish().await;
                    } else {
                        self.pump().await;
                    }
                }
            }
        }
    }

    fn start(&mut self) {
        let mut command = tokio::process::Command::new(&self.program);
        crate::child_env::scrub(&mut command, &[]);
        let spawned = command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        match spawned {
            Ok(mut child) => {
                self.stdout = child.stdout.take();
                self.stderr = child.stderr.take();
                self.child = Some(child);
                self.phase = Phase::Running;
            }
            Err(e) => {
                self.ready.push_back(Err(SourceError::Spawn {
                    program: self.program.clone(),
                    reason: e.to_string(),
                }));
                self.phase = Phase::Done;
            }
        }
    }

    /// Wait for one of: output on either pipe, the child exiting, or (once it
    /// has exited) the pipes staying quiet for [`EXIT_DRAIN`].
    async fn pump(&mut self) {
        let CommandTail {
            child,
            stdout,
            stderr,
            status,
            out_buf,
            err_buf,
            ..
        } = self;
        let exited = status.is_some();
        let waiting = child.is_some() && !exited;
        let event = tokio::select! {
            read = read_some(stdout, out_buf), if stdout.is_some() => Event::Stdout(read),
            read = read_some(stderr, err_buf), if stderr.is_some() => Event::Stderr(read),
            done = wait_child(child), if waiting => Event::Exited(done),
            () = tokio::time::sleep(EXIT_DRAIN), if exited => Event::Quiet,
        };
        match event {
            Event::Stdout(read) => self.take_output(read, false),
            Event::Stderr(read) => self.take_output(read, true),
            Event::Exited(done) => self.status = Some(done),
            Event::Quiet => {
                // Something else (a grandchild) holds the pipes open; stop
                // reading them.
                self.close_pipe(false);
                self.close_pipe(true);
            }
        }
    }

    fn take_output(&mut self, read: std::io::Result<usize>, is_err: bool) {
        let n = match read {
            Ok(n) if n > 0 => n,
            // End of file, or a read error: either way this pipe is done.
            _ => return self.close_pipe(is_err),
        };
        let ready = &mut self.ready;
        if is_err {
            let last = &mut self.last_stderr;
            self.err_lines.push(&self.err_buf[..n], |line| {
                if !line.trim().is_empty() {
                    *last = Some(line.clone());
                }
                ready.push_back(Ok(line));
            });
        } else {
            self.out_lines
                .push(&self.out_buf[..n], |line| ready.push_back(Ok(line)));
        }
    }

    fn close_pipe(&mut self, is_err: bool) {
        let rest = if is_err {
            self.stderr = None;
            self.err_lines.finish()
        } else {
            self.stdout = None;
            self.out_lines.finish()
        };
        if let Some(line) = rest {
            if is_err && !line.trim().is_empty() {
                self.last_stderr = Some(line.clone());
            }
            self.ready.push_back(Ok(line));
        }
    }

    async fn finish(&mut self) {
        let status = match self.status.take() {
            Some(status) => status,
            None => wait_child(&mut self.child).await,
        };
        self.child = None;
        self.ready.push_back(Err(SourceError::Exited {
            program: self.program.clone(),
            status,
            last_stderr: self.last_stderr.take(),
        }));
        self.phase = Phase::Done;
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(buf).await,
        None => Ok(0),
    }
}

async fn wait_child(child: &mut Option<Child>) -> String {
    match child {
        Some(child) => match child.wait().await {
            Ok(status) => describe_status(status),
            Err(e) => format!("status unknown: {e}"),
        },
        None => "status unknown".to_string(),
    }
}

fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

// ---------------------------------------------------------------------------
// File tails

/// Where reading starts when the file is (re)opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenAt {
    /// The start of the last `backlog` lines (the first open).
    Backlog,
    /// The beginning (the file appeared, was rotated or was replaced).
    Start,
}

struct FileTail {
    path: PathBuf,
    backlog: usize,
    file: Option<tokio::fs::File>,
    open_at: OpenAt,
    /// Identity (inode) of the open file.
    id: u64,
    /// Offset of the next byte to read.
    pos: u64,
    lines: LineSplitter,
    ready: VecDeque<String>,
    /// The last error reported, so a lasting problem is reported once.
    last_error: Option<String>,
    buf: Vec<u8>,
}

enum Poll {
    /// Something happened (lines or an error are ready, or state changed).
    Progress,
    /// Nothing new: wait before looking again.
    Idle,
    /// An error to report (unless it is the same as the last one).
    Failed(String),
}

impl FileTail {
    fn new(path: PathBuf, backlog: usize) -> Self {
        FileTail {
            path,
            backlog,
            file: None,
            open_at: OpenAt::Backlog,
            id: 0,
            pos: 0,
            lines: LineSplitter::default(),
            ready: VecDeque::new(),
            last_error: None,
            buf: vec![0u8; CHUNK],
        }
    }

    async fn next_item(&mut self) -> Result<String, SourceError> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Ok(line);
            }
            let step = if self.file.is_some() {
                self.read_more().await
            } else {
                self.open().await
            };
            match step {
                Poll::Progress => {}
                Poll::Idle => tokio::time::sleep(FILE_POLL).await,
                Poll::Failed(reason) => {
                    let repeated = self.last_error.as_deref() == Some(reason.as_str());
                    if !repeated {
                        self.last_error = Some(reason.clone());
                        return Err(SourceError::File {
                            path: self.path.clone(),
                            reason,
                        });
                    }
                    tokio::time::sleep(FILE_POLL).await;
                }
            }
        }
    }

    async fn open(&mut self) -> Poll {
        let mut file = match tokio::fs::File::open(&self.path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // From now on, whatever appears is new: read it all.
                self.open_at = OpenAt::Start;
                return Poll::Failed(
                    "it does not exist (yet); waiting for it to appear".to_string(),
                );
            }
            Err(e) => return Poll::Failed(format!("{e}; retrying")),
        };
        let meta = match file.metadata().await {
            Ok(meta) => meta,
            Err(e) => return Poll::Failed(format!("{e}; retrying")),
        };
        let start = match self.open_at {
            OpenAt::Start => 0,
            OpenAt::Backlog => match backlog_start(&mut file, meta.len(), self.backlog).await {
                Ok(start) => start,
                Err(e) => return Poll::Failed(format!("{e}; retrying")),
            },
        };
        if let Err(e) = file.seek(SeekFrom::Start(start)).await {
            return Poll::Failed(format!("{e}; retrying"));
        }
        self.id = file_id(&meta);
        self.pos = start;
        self.file = Some(file);
        self.open_at = OpenAt::Start;
        self.last_error = None;
        Poll::Progress
    }

    async fn read_more(&mut self) -> Poll {
        let Some(file) = self.file.as_mut() else {
            return Poll::Progress;
        };
        match file.read(&mut self.buf).await {
            Ok(0) => self.check_rotation().await,
            Ok(n) => {
                self.pos += n as u64;
                self.last_error = None;
                let ready = &mut self.ready;
                self.lines
                    .push(&self.buf[..n], |line| ready.push_back(line));
                Poll::Progress
            }
            Err(e) => Poll::Failed(format!("{e}; retrying")),
        }
    }

    /// At the end of the open file: has the path been rotated to a new file,
    /// or the file truncated?
    async fn check_rotation(&mut self) -> Poll {
        let meta = match tokio::fs::metadata(&self.path).await {
            Ok(meta) => meta,
            // Gone for now (mid-rotation, or deleted): keep the old handle and
            // wait for a new file to take its place.
            Err(_) => return Poll::Idle,
        };
        if file_id(&meta) != self.id {
            // Take whatever reached the old file before the switch.
            if let Some(file) = self.file.as_mut() {
                while let Ok(n) = file.read(&mut self.buf).await
                    && n > 0
                {
                    let ready = &mut self.ready;
                    self.lines
                        .push(&self.buf[..n], |line| ready.push_back(line));
                }
            }
            self.flush_partial();
            self.file = None;
            self.open_at = OpenAt::Start;
            return Poll::Progress;
        }
        if meta.len() < self.pos {
            self.flush_partial();
            if let Some(file) = self.file.as_mut()
                && let Err(e) = file.seek(SeekFrom::Start(0)).await
            {
                self.file = None;
                return Poll::Failed(format!("{e}; retrying"));
            }
            self.pos = 0;
            return Poll::Progress;
        }
        Poll::Idle
    }

    /// The old file will not finish its last line: yield what there is.
    fn flush_partial(&mut self) {
        if let Some(line) = self.lines.finish() {
            self.ready.push_back(line);
        }
    }
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// Offset where the last `lines` lines of the file begin (a trailing partial
/// line comes on top), found by reading backwards from the end in chunks.
async fn backlog_start(file: &mut tokio::fs::File, len: u64, lines: usize) -> std::io::Result<u64> {
    // The start is just after the (lines + 1)-th newline from the end.
    let mut newlines_left = lines.saturating_add(1);
    let mut buf = vec![0u8; CHUNK];
    let mut end = len;
    while end > 0 {
        let size = usize::try_from(end).map_or(CHUNK, |end| end.min(CHUNK));
        let start = end - size as u64;
        file.seek(SeekFrom::Start(start)).await?;
        let chunk = &mut buf[..size];
        file.read_exact(chunk).await?;
        for (i, &b) in chunk.iter().enumerate().rev() {
            if b == b'\n' {
                newlines_left -= 1;
                if newlines_left == 0 {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;

    const WAIT: Duration = Duration::from_secs(10);

    type Lines = BoxStream<'static, Result<String, SourceError>>;

    fn cmd(program: &str, args: &[&str]) -> SourceSpec {
        SourceSpec::Command {
            program: program.to_string(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
        }
    }

    async fn next(stream: &mut Lines) -> Option<Result<String, SourceError>> {
        tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("timed out waiting for the stream")
    }

    async fn next_line(stream: &mut Lines) -> String {
        match next(stream).await {
            Some(Ok(line)) => line,
            other => panic!("expected a line, got {other:?}"),
        }
    }

    async fn assert_quiet(stream: &mut Lines, for_: Duration) {
        if let Ok(item) = tokio::time::timeout(for_, stream.next()).await {
            panic!("expected nothing yet, got {item:?}");
        }
    }

    async fn collect_all(stream: &mut Lines) -> Vec<Result<String, SourceError>> {
        let mut items = Vec::new();
        while let Some(item) = next(stream).await {
            items.push(item);
        }
        items
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.flush().unwrap();
    }

    // ---- spec building ----

    #[test]
    fn journald_local_and_over_ssh() {
        assert_eq!(
            SourceSpec::journald("api.service", None),
            cmd(
                "journalctl",
                &["-u", "api.service", "-o", "json", "-f", "-n", "200"]
            )
        );
        assert_eq!(
            SourceSpec::journald("api.service", Some("deploy@web1")),
            cmd(
                "ssh",
                &[
                    "-o",
                    "BatchMode=yes",
                    "deploy@web1",
                    "journalctl",
                    "-u",
                    "api.service",
                    "-o",
                    "json",
                    "-f",
                    "-n",
                    "200"
                ]
            )
        );
    }

    #[test]
    fn docker_local_and_over_ssh() {
        assert_eq!(
            SourceSpec::docker("web", None),
            cmd("docker", &["logs", "-f", "--tail", "200", "web"])
        );
        assert_eq!(
            SourceSpec::docker("web", Some("box")),
            cmd(
                "ssh",
                &[
                    "-o",
                    "BatchMode=yes",
                    "box",
                    "docker",
                    "logs",
                    "-f",
                    "--tail",
                    "200",
                    "web"
                ]
            )
        );
    }

    #[test]
    fn ssh_quotes_remote_words_for_the_remote_shell() {
        let SourceSpec::Command { args, .. } = SourceSpec::journald("my unit", Some("h")) else {
            panic!("not a command");
        };
        assert_eq!(args[5], "'my unit'");
    }

    #[test]
    fn command_splits_plain_words() {
        assert_eq!(
            SourceSpec::command("  journalctl   -u api\t-f ").unwrap(),
            cmd("journalctl", &["-u", "api", "-f"])
        );
    }

    #[test]
    fn command_handles_quotes_and_escapes() {
        let spec = SourceSpec::command(
            r#"prog 'a b' "c \"d\" \\ \x" e\ f '' "it's" 'say "hi"' mix'ed'"wo"rd $HOME"#,
        )
        .unwrap();
        assert_eq!(
            spec,
            cmd(
                "prog",
                &[
                    "a b",
                    r#"c "d" \ \x"#,
                    "e f",
                    "",
                    "it's",
                    r#"say "hi""#,
                    "mixedword",
                    "$HOME"
                ]
            )
        );
    }

    #[test]
    fn command_errors() {
        for bad in [
            "",
            "   \t ",
            "prog 'open",
            r#"prog "open"#,
            r#"prog "a\"#,
            "prog a\\",
            "'' x",
        ] {
            match SourceSpec::command(bad) {
                Err(SourceError::Spec(msg)) => assert!(!msg.is_empty()),
                other => panic!("{bad:?}: expected a Spec error, got {other:?}"),
            }
        }
        let Err(SourceError::Spec(msg)) = SourceSpec::command("a 'b") else {
            panic!("expected an error");
        };
        assert!(msg.contains("unterminated"), "{msg}");
        let Err(SourceError::Spec(msg)) = SourceSpec::command(" ") else {
            panic!("expected an error");
        };
        assert!(msg.contains("empty"), "{msg}");
    }

    #[test]
    fn shell_equivalent_quotes_where_needed() {
        assert_eq!(
            SourceSpec::File {
                path: PathBuf::from("/var/log/my app.log")
            }
            .shell_equivalent(),
            "tail -F -n 200 '/var/log/my app.log'"
        );
        assert_eq!(
            SourceSpec::File {
                path: PathBuf::from("/var/log/app.log")
            }
            .shell_equivalent(),
            "tail -F -n 200 /var/log/app.log"
        );
        assert_eq!(
            cmd("docker", &["logs", "-f", "it's", "", "a$b", "x=1"]).shell_equivalent(),
            r#"docker logs -f 'it'\''s' '' 'a$b' x=1"#
        );
    }

    #[test]
    fn shell_equivalent_round_trips_through_command() {
        for spec in [
            cmd(
                "prog",
                &[
                    "plain",
                    "two words",
                    "it's",
                    "",
                    r#"q"uo\te"#,
                    "$X",
                    "*",
                    "~",
                ],
            ),
            SourceSpec::journald("odd unit's", Some("host")),
            SourceSpec::docker("web", None),
        ] {
            assert_eq!(SourceSpec::command(&spec.shell_equivalent()).unwrap(), spec);
        }
    }

    #[test]
    fn error_messages_are_helpful() {
        let spawn = SourceError::Spawn {
            program: "journalctl".into(),
            reason: "No such file or directory".into(),
        };
        let text = spawn.to_string();
        assert!(
            text.contains("journalctl") && text.contains("PATH"),
            "{text}"
        );
        let exited = SourceError::Exited {
            program: "docker".into(),
            status: "exit code 1".into(),
            last_stderr: Some("no such container".into()),
        };
        assert_eq!(
            exited.to_string(),
            "`docker` exited (exit code 1): no such container"
        );
        let file = SourceError::File {
            path: PathBuf::from("/x/y.log"),
            reason: "gone".into(),
        };
        assert_eq!(file.to_string(), "cannot read /x/y.log: gone");
    }

    // ---- line splitting ----

    #[test]
    fn splitter_handles_crlf_partials_cuts_and_bad_utf8() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.push(b"one\r\ntw", |l| out.push(l));
        s.push(b"o\n\xffok\n", |l| out.push(l));
        assert_eq!(out, ["one", "two", "\u{FFFD}ok"]);
        assert_eq!(s.finish(), None);

        let mut long = "é".repeat(MAX_LINE); // 2 bytes each: cut lands mid-way
        long.push('x');
        let mut out = Vec::new();
        s.push(long.as_bytes(), |l| out.push(l));
        s.push(b"\nnext", |l| out.push(l));
        assert_eq!(out.len(), 1);
        assert!(out[0].ends_with(CUT_MARK));
        let kept = out[0].trim_end_matches(CUT_MARK);
        assert!(kept.len() <= MAX_LINE && kept.chars().all(|c| c == 'é'));
        assert_eq!(s.finish().as_deref(), Some("next"));
    }

    // ---- commands ----

    #[tokio::test]
    async fn command_yields_lines_then_exited() {
        let mut stream = follow(
            cmd("sh", &["-c", "echo a; echo b; echo oops >&2; exit 3"]),
            0,
        );
        let items = collect_all(&mut stream).await;
        let (last, lines) = items.split_last().expect("some items");
        let lines: Vec<&str> = lines
            .iter()
            .map(|l| l.as_deref().expect("a line"))
            .collect();
        let pos = |want: &str| lines.iter().position(|l| *l == want);
        assert!(pos("a") < pos("b") && pos("b").is_some(), "{lines:?}");
        assert!(pos("oops").is_some(), "{lines:?}");
        assert_eq!(lines.len(), 3);
        assert_eq!(
            last,
            &Err(SourceError::Exited {
                program: "sh".into(),
                status: "exit code 3".into(),
                last_stderr: Some("oops".into()),
            })
        );
    }

    #[tokio::test]
    async fn command_output_is_split_cut_and_lossy() {
        let script = r"printf 'a\r\nb\377\nno-newline'; head -c 20000 /dev/zero | tr '\0' x >&2";
        let mut stream = follow(cmd("sh", &["-c", script]), 0);
        let items = collect_all(&mut stream).await;
        let lines: Vec<String> = items.iter().filter_map(|i| i.clone().ok()).collect();
        assert!(lines.contains(&"a".to_string()), "{lines:?}");
        assert!(lines.contains(&"b\u{FFFD}".to_string()), "{lines:?}");
        assert!(lines.contains(&"no-newline".to_string()), "{lines:?}");
        let cut = format!("{}{CUT_MARK}", "x".repeat(MAX_LINE));
        assert!(lines.contains(&cut));
        assert!(matches!(
            items.last(),
            Some(Err(SourceError::Exited { status, last_stderr: Some(_), .. })) if status == "exit code 0"
        ));
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let mut stream = follow(cmd("shipdeck-no-such-program", &["x"]), 0);
        match next(&mut stream).await {
            Some(Err(SourceError::Spawn { program, reason })) => {
                assert_eq!(program, "shipdeck-no-such-program");
                assert!(!reason.is_empty());
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
        assert!(next(&mut stream).await.is_none());
    }

    #[tokio::test]
    async fn dropping_the_stream_kills_the_child() {
        let mut stream = follow(cmd("sh", &["-c", "echo $$; exec sleep 30"]), 0);
        let pid = next_line(&mut stream).await;
        assert!(pid.parse::<u32>().is_ok(), "{pid}");
        let alive = || {
            std::process::Command::new("kill")
                .args(["-0", &pid])
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        assert!(alive());
        drop(stream);
        let mut gone = false;
        for _ in 0..100 {
            if !alive() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "pid {pid} still alive after dropping the stream");
    }

    // ---- files ----

    #[tokio::test]
    async fn file_starts_with_backlog_then_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let body: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, body).unwrap();
        let mut stream = follow(SourceSpec::File { path: path.clone() }, 5);
        for i in 9_995..10_000 {
            assert_eq!(next_line(&mut stream).await, format!("line {i}"));
        }
        assert_quiet(&mut stream, Duration::from_millis(500)).await;
        append(&path, "new 1\nnew 2\n");
        assert_eq!(next_line(&mut stream).await, "new 1");
        assert_eq!(next_line(&mut stream).await, "new 2");
    }

    #[tokio::test]
    async fn backlog_start_edge_cases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        let cases: &[(&str, usize, u64)] = &[
            ("", 3, 0),
            ("a\nb\nc\n", 0, 6),
            ("a\nb\nc\n", 1, 4),
            ("a\nb\nc\n", 3, 0),
            ("a\nb\nc\n", 9, 0),
            ("a\nb\npart", 0, 4),
            ("a\nb\npart", 1, 2),
            ("a\nb\npart", usize::MAX, 0),
        ];
        for &(body, n, want) in cases {
            std::fs::write(&path, body).unwrap();
            let mut file = tokio::fs::File::open(&path).await.unwrap();
            let got = backlog_start(&mut file, body.len() as u64, n)
                .await
                .unwrap();
            assert_eq!(got, want, "{body:?} n={n}");
        }
        // Across chunk boundaries.
        let body: String = (0..50_000).map(|i| format!("{i:07}\n")).collect();
        std::fs::write(&path, &body).unwrap();
        let mut file = tokio::fs::File::open(&path).await.unwrap();
        let got = backlog_start(&mut file, body.len() as u64, 20_000)
            .await
            .unwrap();
        assert_eq!(got, 30_000 * 8);
    }

    #[tokio::test]
    async fn partial_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "first\nhalf").unwrap();
        let mut stream = follow(SourceSpec::File { path: path.clone() }, 10);
        assert_eq!(next_line(&mut stream).await, "first");
        assert_quiet(&mut stream, Duration::from_millis(600)).await;
        append(&path, "-done\r\n");
        assert_eq!(next_line(&mut stream).await, "half-done");
    }

    #[tokio::test]
    async fn rotation_by_rename_continues_with_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "old 1\n").unwrap();
        let mut stream = follow(SourceSpec::File { path: path.clone() }, 10);
        assert_eq!(next_line(&mut stream).await, "old 1");
        append(&path, "old 2\n");
        assert_eq!(next_line(&mut stream).await, "old 2");
        let rotated = dir.path().join("app.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        // The writer finishes its last line in the old file, then switches.
        append(&rotated, "old 3\n");
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(&path, "new 1\nnew 2 long enough to not matter\n").unwrap();
        assert_eq!(next_line(&mut stream).await, "old 3");
        assert_eq!(next_line(&mut stream).await, "new 1");
        assert_eq!(
            next_line(&mut stream).await,
            "new 2 long enough to not matter"
        );
        append(&path, "new 3\n");
        assert_eq!(next_line(&mut stream).await, "new 3");
    }

    #[tokio::test]
    async fn truncation_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "aaaaaaaa\nbbbbbbbb\n").unwrap();
        let mut stream = follow(SourceSpec::File { path: path.clone() }, 10);
        assert_eq!(next_line(&mut stream).await, "aaaaaaaa");
        assert_eq!(next_line(&mut stream).await, "bbbbbbbb");
        // Truncate in place (same inode), like copytruncate.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(0).unwrap();
        drop(file);
        tokio::time::sleep(Duration::from_millis(500)).await;
        append(&path, "c\n");
        assert_eq!(next_line(&mut stream).await, "c");
        append(&path, "d\n");
        assert_eq!(next_line(&mut stream).await, "d");
    }

    #[tokio::test]
    async fn missing_file_reports_once_then_follows_when_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut stream = follow(SourceSpec::File { path: path.clone() }, 10);
        match next(&mut stream).await {
            Some(Err(SourceError::File { path: p, reason })) => {
                assert_eq!(p, path);
                assert!(reason.contains("waiting"), "{reason}");
            }
            other => panic!("expected a File error, got {other:?}"),
        }
        assert_quiet(&mut stream, Duration::from_millis(700)).await;
        std::fs::write(&path, "hello\n").unwrap();
        assert_eq!(next_line(&mut stream).await, "hello");
        append(&path, "again\n");
        assert_eq!(next_line(&mut stream).await, "again");
    }
}
