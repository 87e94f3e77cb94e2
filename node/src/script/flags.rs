//! A script's shebang line (`#!lua flags=no-writes,allow-cross-slot-keys`), as Redis 7.0
//! reads it (`evalExtractShebangFlags`). Without one a script runs in compatibility mode.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// Had a `#!lua` line (else compatibility mode).
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// The flags and the shebang line's length (the body compiles from there, keeping the line
/// feed so that line numbers stay the user's). The error is Redis's reply text.
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    flags.shebang = true;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for f in list.split(',') {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                _ => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs() {
        assert_eq!(parse_shebang(b"return 1"), Ok((ScriptFlags::default(), 0)));
        let (f, n) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.shebang && f.no_writes && f.allow_oom && !f.no_cluster);
        assert_eq!(n, 31);
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes"),
            Err("ERR Invalid script shebang".into())
        );
        assert_eq!(
            parse_shebang(b"#!python\n"),
            Err("ERR Unexpected engine in script shebang: #!python".into())
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=fast\n"),
            Err("ERR Unexpected flag in script shebang: fast".into())
        );
        assert_eq!(
            parse_shebang(b"#!lua name=x\n"),
            Err("ERR Unknown lua shebang option: name=x".into())
        );
    }
}
