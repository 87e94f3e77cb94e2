//! `autocachectl cli`: a one-shot RESP client printing the reply like `redis-cli` does on a
//! terminal. RESP2 by default; `-3` sends `HELLO 3` first and reads RESP3 (map entries then
//! print in the decoder's order, which is not the server's).

use std::io;

use autocache_proto::resp::decode_reply;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reply::{format, Shown};

/// `cli` flags. `-h` is the host, as in redis-cli; help is `--help` only.
#[derive(Debug, Clone, clap::Args)]
pub struct CliArgs {
    /// Server hostname.
    #[arg(short = 'h', long = "host", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short = 'p', long = "port", default_value_t = 6379)]
    pub port: u16,
    /// Password sent with AUTH before the command.
    #[arg(short = 'a', long = "pass")]
    pub password: Option<String>,
    /// Speak RESP3 (HELLO 3 first).
    #[arg(short = '3')]
    pub resp3: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Command and arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs the command; returns the text to print and whether the reply is an error.
pub async fn run(args: &CliArgs) -> io::Result<(String, bool)> {
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("Could not connect to Redis at {addr}: {}", os_message(&e)),
        )
    })?;
    let mut buf = BytesMut::with_capacity(4096);
    if args.resp3 {
        let hello = call(&mut conn, &mut buf, &["HELLO", "3"], true).await?;
        if hello.is_error() {
            return Ok((format(&hello), true));
        }
    }
    if let Some(pass) = &args.password {
        let auth = call(&mut conn, &mut buf, &["AUTH", pass], args.resp3).await?;
        if auth.is_error() {
            return Ok((format(&auth), true));
        }
    }
    let argv: Vec<&str> = args.command.iter().map(String::as_str).collect();
    let reply = call(&mut conn, &mut buf, &argv, args.resp3).await?;
    Ok((format(&reply), reply.is_error()))
}

/// "Connection refused" rather than "Connection refused (os error 111)", as redis-cli says.
fn os_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Sends one command as a RESP array of bulk strings and reads one reply.
async fn call(
    conn: &mut TcpStream,
    buf: &mut BytesMut,
    argv: &[&str],
    resp3: bool,
) -> io::Result<Shown> {
    let mut req = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        req.extend_from_slice(a.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    conn.write_all(&req).await?;
    loop {
        // The RESP3 decoder rejects an empty buffer instead of asking for more.
        if !buf.is_empty() {
            if let Some(reply) = decode(buf, resp3)? {
                return Ok(reply);
            }
        }
        if conn.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "Server closed the connection",
            ));
        }
    }
}

fn decode(buf: &mut BytesMut, resp3: bool) -> io::Result<Option<Shown>> {
    let bad = |e: redis_protocol::error::RedisProtocolError| {
        io::Error::new(io::ErrorKind::InvalidData, e.to_string())
    };
    if resp3 {
        Ok(decode_reply(buf)
            .map_err(bad)?
            .map(|(f, _, _)| Shown::from(f)))
    } else {
        // RESP2 replies use `$-1`/`*-1` for nil, which only the RESP2 decoder reads.
        Ok(redis_protocol::resp2::decode::decode_bytes_mut(buf)
            .map_err(bad)?
            .map(|(f, _, _)| Shown::from(f)))
    }
}
