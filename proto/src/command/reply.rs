//! `COMMAND` and its subcommands, answered from the command table alone, so the node and the
//! proxy give the same reply. Shapes and error texts are Redis 7.0's; key specifications and
//! tips, which the table does not carry, are reported empty.

use super::table::DOCS;
use super::{flags, lookup, lookup_sub, row_for, CommandSpec, KeyRule, COMMANDS};
use crate::resp::{parse_i64, ReplyBuf};

/// A command's `COMMAND DOCS` entry.
#[derive(Debug, Clone, Copy)]
pub struct CommandDoc {
    /// Full name, `parent|sub` for a subcommand.
    pub name: &'static str,
    pub since: &'static str,
    /// Redis's documentation group (`generic`, `string`, `sorted-set` …).
    pub group: &'static str,
    pub complexity: &'static str,
    pub summary: &'static str,
}

/// The docs of a command or subcommand, by its full lower-case name.
pub fn doc(name: &str) -> Option<&'static CommandDoc> {
    DOCS.iter().find(|d| d.name == name)
}

/// Looks a command up by its full name, case-insensitively: `get`, or `config|get` for a
/// subcommand (as `COMMAND INFO` and `COMMAND DOCS` take them).
pub fn lookup_fullname(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut parts = name.split(|&b| b == b'|');
    let parent = lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(parent),
        (Some(sub), None) => lookup_sub(parent, sub),
        (Some(_), Some(_)) => None,
    }
}

/// Redis's names of the command's flags, in the order `COMMAND INFO` lists them. Our own bits
/// (`KEYLESS`, `PUBSUB_CONTEXT`) are not Redis flags and are left out.
pub fn flag_names(spec: &CommandSpec) -> Vec<&'static str> {
    const NAMES: &[(u32, &str)] = &[
        (flags::WRITE, "write"),
        (flags::READONLY, "readonly"),
        (flags::DENYOOM, "denyoom"),
        (flags::ADMIN, "admin"),
        (flags::PUBSUB, "pubsub"),
        (flags::NOSCRIPT, "noscript"),
        (flags::BLOCKING, "blocking"),
        (flags::LOADING, "loading"),
        (flags::STALE, "stale"),
        (flags::FAST, "fast"),
        (flags::NO_AUTH, "no_auth"),
        (flags::NO_MULTI, "no_multi"),
    ];
    let mut names: Vec<_> = NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|&(_, name)| name)
        .collect();
    if spec.movable_keys() {
        names.push("movablekeys");
    }
    if spec.has(flags::ALLOW_BUSY) {
        names.push("allow_busy");
    }
    names
}

/// Commands Redis files under `@dangerous` without them being `admin`.
const DANGEROUS: &[&str] = &["keys", "flushdb", "flushall", "info", "restore"];

/// The command's ACL categories (`@read`, `@string`, `@fast` …), in Redis's order. As in
/// Redis they follow from the flags (`write` → `@write`, not `fast` → `@slow` …) plus the
/// family's category; a container that cannot run without a subcommand has none of its own.
pub fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let own_group = spec.subcommands.is_empty() || spec.arity != -2;
    let group = |g: &str| own_group && spec.group == g;
    let mut cats = Vec::with_capacity(6);
    if group("keyspace") {
        cats.push("@keyspace");
    }
    if spec.has(flags::READONLY) {
        cats.push("@read");
    }
    if spec.has(flags::WRITE) {
        cats.push("@write");
    }
    for (g, cat) in [
        ("set", "@set"),
        ("sortedset", "@sortedset"),
        ("list", "@list"),
        ("hash", "@hash"),
        ("string", "@string"),
        ("bitmap", "@bitmap"),
    ] {
        if group(g) {
            cats.push(cat);
        }
    }
    if spec.has(flags::PUBSUB) {
        cats.push("@pubsub");
    }
    if spec.has(flags::ADMIN) {
        cats.push("@admin");
    }
    cats.push(if spec.has(flags::FAST) {
        "@fast"
    } else {
        "@slow"
    });
    if spec.has(flags::BLOCKING) {
        cats.push("@blocking");
    }
    if spec.has(flags::ADMIN) || DANGEROUS.contains(&spec.name) {
        cats.push("@dangerous");
    }
    if group("connection") {
        cats.push("@connection");
    }
    if group("transaction") {
        cats.push("@transaction");
    }
    if group("scripting") {
        cats.push("@scripting");
    }
    cats
}

/// Answers `COMMAND [subcommand [arg …]]`. `args[0]` is the command name itself (any case).
pub fn command_command(args: &[&[u8]], out: &mut ReplyBuf) {
    let parent = lookup(b"command").expect("COMMAND is in the table");
    let Some(&sub_name) = args.get(1) else {
        all_info(out);
        return;
    };
    let Some(sub) = lookup_sub(parent, sub_name) else {
        let shown = String::from_utf8_lossy(&sub_name[..sub_name.len().min(128)]);
        out.error(&format!(
            "ERR unknown subcommand '{shown}'. Try COMMAND HELP."
        ));
        return;
    };
    if !sub.arity_ok(args.len()) {
        out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            sub.name
        ));
        return;
    }
    let rest = &args[2..];
    match sub.name {
        "command|count" => out.int(COMMANDS.len() as i64),
        "command|info" if rest.is_empty() => all_info(out),
        "command|info" => {
            out.array(rest.len());
            for name in rest {
                match lookup_fullname(name) {
                    Some(spec) => info_entry(spec, out),
                    None => out.null(),
                }
            }
        }
        "command|list" => list(rest, out),
        "command|docs" => docs(rest, out),
        "command|getkeys" => getkeys(rest, out),
        "command|help" => help(out),
        other => unreachable!("no handler for {other}"),
    }
}

fn all_info(out: &mut ReplyBuf) {
    out.array(COMMANDS.len());
    for spec in COMMANDS {
        info_entry(spec, out);
    }
}

/// One command's `COMMAND INFO` entry: Redis 7's ten fields.
fn info_entry(spec: &CommandSpec, out: &mut ReplyBuf) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    string_set(&flag_names(spec), out);
    let (first, last, step) = spec.key_positions();
    out.int(first);
    out.int(last);
    out.int(step);
    string_set(&acl_categories(spec), out);
    // Tips and key specifications: not in the table. Redis sends empty ones as sets.
    out.set(0);
    out.set(0);
    if spec.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(spec.subcommands.len());
        for sub in spec.subcommands {
            info_entry(sub, out);
        }
    }
}

fn string_set(items: &[&str], out: &mut ReplyBuf) {
    out.set(items.len());
    for item in items {
        out.simple(item);
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`: names of
/// commands and subcommands.
fn list(opts: &[&[u8]], out: &mut ReplyBuf) {
    enum Filter<'a> {
        All,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    // Redis takes one FILTERBY, and only as the last three arguments.
    let filter = match opts {
        [] => Filter::All,
        [opt, kind, arg] if opt.eq_ignore_ascii_case(b"filterby") => {
            if kind.eq_ignore_ascii_case(b"module") {
                Filter::Module
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                Filter::AclCat(arg)
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                Filter::Pattern(arg)
            } else {
                out.error("ERR syntax error");
                return;
            }
        }
        _ => {
            out.error("ERR syntax error");
            return;
        }
    };
    let keep = |spec: &CommandSpec| match filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::AclCat(cat) => acl_categories(spec)
            .iter()
            .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(cat)),
        Filter::Pattern(pattern) => glob_match_nocase(pattern, spec.name.as_bytes()),
    };
    let names: Vec<&str> = COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands))
        .filter(|c| keep(c))
        .map(|c| c.name)
        .collect();
    out.array(names.len());
    for name in names {
        out.bulk(name.as_bytes());
    }
}

/// `COMMAND DOCS [name …]`: a map of name → docs; unknown names are left out.
fn docs(names: &[&[u8]], out: &mut ReplyBuf) {
    let specs: Vec<&CommandSpec> = if names.is_empty() {
        COMMANDS.iter().collect()
    } else {
        names.iter().filter_map(|n| lookup_fullname(n)).collect()
    };
    out.map(specs.len());
    for spec in specs {
        out.bulk(spec.name.as_bytes());
        doc_entry(spec, out);
    }
}

fn doc_entry(spec: &CommandSpec, out: &mut ReplyBuf) {
    let d = doc(spec.name);
    let text = |f: fn(&CommandDoc) -> &'static str| d.map_or("", f);
    let fields = [
        ("summary", text(|d| d.summary)),
        ("since", text(|d| d.since)),
        ("group", text(|d| d.group)),
        ("complexity", text(|d| d.complexity)),
    ];
    let has_subs = !spec.subcommands.is_empty();
    out.map(fields.len() + has_subs as usize);
    for (key, value) in fields {
        out.bulk(key.as_bytes());
        out.bulk(value.as_bytes());
    }
    if has_subs {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            out.bulk(sub.name.as_bytes());
            doc_entry(sub, out);
        }
    }
}

/// `COMMAND GETKEYS cmd arg …`: the key arguments of a full command line, as Redis finds them.
fn getkeys(cmd: &[&[u8]], out: &mut ReplyBuf) {
    let spec = lookup(cmd[0]).and_then(|base| row_for(base, cmd.get(1).copied()));
    let Some(spec) = spec else {
        out.error("ERR Invalid command specified");
        return;
    };
    // Channels of the sharded pub/sub commands sit in key positions for routing, but Redis
    // does not count them as keys.
    if spec.keys == KeyRule::None || spec.has(flags::PUBSUB) {
        out.error("ERR The command has no key arguments");
        return;
    }
    if !spec.arity_ok(cmd.len()) {
        out.error("ERR Invalid number of arguments specified for command");
        return;
    }
    match key_positions_like_redis(spec, cmd) {
        Some(keys) if !keys.is_empty() => {
            out.array(keys.len());
            for i in keys {
                out.bulk(cmd[i]);
            }
        }
        _ => out.error("ERR Invalid arguments specified for command"),
    }
}

/// Key positions as `COMMAND GETKEYS` reports them. A numkeys that is not a strict integer
/// falls back, as in Redis, to `atoi` and then lists the destination key last.
fn key_positions_like_redis(spec: &CommandSpec, args: &[&[u8]]) -> Option<Vec<usize>> {
    let KeyRule::NumKeys { numkeys, dest } = spec.keys else {
        return spec.key_indexes(args).ok();
    };
    let argc = args.len() as i64;
    let first = numkeys + 1;
    let raw = args.get(numkeys)?;
    if let Some(n) = parse_i64(raw) {
        if n >= 1 && first as i64 + n <= argc {
            return Some(dest.into_iter().chain(first..first + n as usize).collect());
        }
    }
    let n = atoi(raw);
    if n < 1 || n > argc - first as i64 {
        return None;
    }
    Some((first..first + n as usize).chain(dest).collect())
}

/// C's `atoi`: leading blanks, a sign, then as many digits as there are.
fn atoi(s: &[u8]) -> i64 {
    let s = match s.iter().position(|b| !b" \t\n\x0b\x0c\r".contains(b)) {
        Some(start) => &s[start..],
        None => return 0,
    };
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|d| d.is_ascii_digit())
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
    if neg {
        -n
    } else {
        n
    }
}

fn help(out: &mut ReplyBuf) {
    const LINES: &[&str] = &[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ];
    out.array(LINES.len());
    for line in LINES {
        out.simple(line);
    }
}

/// Redis's `stringmatchlen` with `nocase`: `*`, `?`, `[…]` (with `^` and ranges) and `\`.
fn glob_match_nocase(pattern: &[u8], string: &[u8]) -> bool {
    let mut give_up = false;
    glob(pattern, string, &mut give_up)
}

/// `give_up` is Redis's `skipLongerMatches`: once a `*` failed against a suffix, longer
/// matches for earlier stars cannot succeed either, which keeps the search polynomial.
fn glob(mut p: &[u8], mut s: &[u8], give_up: &mut bool) -> bool {
    let eq = |a: u8, b: u8| a.eq_ignore_ascii_case(&b);
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.get(1) == Some(&b'*') {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if glob(&p[1..], s, give_up) {
                        return true;
                    }
                    if *give_up {
                        return false;
                    }
                    s = &s[1..];
                }
                *give_up = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = s[0].to_ascii_lowercase();
                let mut matched = false;
                loop {
                    match p {
                        [b'\\', esc, ..] => {
                            p = &p[1..];
                            matched |= *esc == s[0];
                        }
                        [b']', ..] => break,
                        // Unterminated: the pattern ends the class.
                        [] => break,
                        [start, b'-', end, ..] => {
                            // Swapped before lower-casing, as Redis does.
                            let (lo, hi) = if start > end {
                                (end, start)
                            } else {
                                (start, end)
                            };
                            let (lo, hi) = (lo.to_ascii_lowercase(), hi.to_ascii_lowercase());
                            matched |= (lo..=hi).contains(&c);
                            p = &p[2..];
                        }
                        [b, ..] => matched |= eq(*b, s[0]),
                    }
                    p = &p[1..];
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                if !eq(p[1], s[0]) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
            b => {
                if !eq(b, s[0]) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = p.get(1..).unwrap_or_default();
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Protocol;

    fn run(proto: Protocol, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut out = ReplyBuf::new(proto);
        command_command(&args, &mut out);
        String::from_utf8(out.buf.to_vec()).unwrap()
    }

    fn resp2(line: &str) -> String {
        run(Protocol::Resp2, line)
    }

    #[test]
    fn info_get_byte_exact() {
        let entry = "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
                     *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n";
        assert_eq!(resp2("COMMAND INFO get"), format!("*1\r\n{entry}"));
        assert_eq!(resp2("command info GET"), format!("*1\r\n{entry}"));
        assert_eq!(
            run(Protocol::Resp3, "COMMAND INFO get"),
            "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             ~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~0\r\n~0\r\n"
        );
        // Unknown names answer null in their place.
        assert_eq!(
            resp2("COMMAND INFO nosuch get"),
            format!("*2\r\n$-1\r\n{entry}")
        );
        assert!(run(Protocol::Resp3, "COMMAND INFO nosuch").starts_with("*1\r\n_\r\n"));
    }

    #[test]
    fn info_of_movable_and_subcommands() {
        assert_eq!(
            resp2("COMMAND INFO zunionstore"),
            "*1\r\n*10\r\n$11\r\nzunionstore\r\n:-4\r\n*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n\
             :1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@sortedset\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"
        );
        assert_eq!(
            resp2("COMMAND INFO config|get"),
            "*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n\
             +stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n"
        );
        // A container lists its subcommands as full entries.
        let object = resp2("COMMAND INFO object");
        assert!(object.starts_with(
            "*1\r\n*10\r\n$6\r\nobject\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*6\r\n\
             *10\r\n$15\r\nobject|encoding\r\n:3\r\n*1\r\n+readonly\r\n:2\r\n:2\r\n:1\r\n"
        ));
        assert_eq!(
            resp2("COMMAND INFO get|x config|get|x"),
            "*2\r\n$-1\r\n$-1\r\n"
        );
    }

    #[test]
    fn all_commands_and_count() {
        assert_eq!(resp2("COMMAND COUNT"), format!(":{}\r\n", COMMANDS.len()));
        for line in ["COMMAND", "COMMAND INFO"] {
            let all = resp2(line);
            assert!(all.starts_with(&format!("*{}\r\n*10\r\n$3\r\nget\r\n", COMMANDS.len())));
        }
    }

    #[test]
    fn getkeys_byte_exact() {
        let cases = [
            ("get k", "*1\r\n$1\r\nk\r\n"),
            ("mset a 1 b 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("mset a 1 b", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("blpop a b 0", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            (
                "zunionstore dst 2 a b weights 1 2",
                "*3\r\n$3\r\ndst\r\n$1\r\na\r\n$1\r\nb\r\n",
            ),
            // Not a strict integer: Redis falls back to atoi and lists the destination last.
            (
                "zunionstore dst 02 a b",
                "*3\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\ndst\r\n",
            ),
            (
                "lmpop 3 a b left",
                "*3\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\nleft\r\n",
            ),
            ("blmpop 0 2 a b left", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("bzmpop 0 1 a min", "*1\r\n$1\r\na\r\n"),
            ("sintercard 2 a b limit 3", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("object encoding k", "*1\r\n$1\r\nk\r\n"),
            ("MEMORY usage k samples 5", "*1\r\n$1\r\nk\r\n"),
            ("watch a b", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("nosuch a", "-ERR Invalid command specified\r\n"),
            ("object nosuch k", "-ERR Invalid command specified\r\n"),
            (
                "get a b",
                "-ERR Invalid number of arguments specified for command\r\n",
            ),
            (
                "lmpop 1 a",
                "-ERR Invalid number of arguments specified for command\r\n",
            ),
            ("ping x", "-ERR The command has no key arguments\r\n"),
            ("object help", "-ERR The command has no key arguments\r\n"),
            ("publish c m", "-ERR The command has no key arguments\r\n"),
            ("spublish c m", "-ERR The command has no key arguments\r\n"),
            (
                "ssubscribe a b",
                "-ERR The command has no key arguments\r\n",
            ),
            (
                "zunionstore dst abc a",
                "-ERR Invalid arguments specified for command\r\n",
            ),
            (
                "zunionstore dst 5 a",
                "-ERR Invalid arguments specified for command\r\n",
            ),
            (
                "zunionstore dst 0 a",
                "-ERR Invalid arguments specified for command\r\n",
            ),
            (
                "zunionstore dst -1 a",
                "-ERR Invalid arguments specified for command\r\n",
            ),
            (
                "lmpop 4 a b left",
                "-ERR Invalid arguments specified for command\r\n",
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(resp2(&format!("COMMAND GETKEYS {cmd}")), want, "{cmd}");
        }
        assert_eq!(
            resp2("COMMAND GETKEYS get"),
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
        );
    }

    #[test]
    fn subcommand_errors() {
        assert_eq!(
            resp2("COMMAND xyZ"),
            "-ERR unknown subcommand 'xyZ'. Try COMMAND HELP.\r\n"
        );
        assert_eq!(
            resp2("COMMAND COUNT x"),
            "-ERR wrong number of arguments for 'command|count' command\r\n"
        );
        assert_eq!(
            resp2("COMMAND HELP x"),
            "-ERR wrong number of arguments for 'command|help' command\r\n"
        );
    }

    #[test]
    fn list_and_filters() {
        let names = |line: &str| -> Vec<String> {
            let reply = resp2(line);
            reply
                .split("\r\n")
                .skip(2)
                .step_by(2)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let all = names("COMMAND LIST");
        assert_eq!(
            all.len(),
            COMMANDS
                .iter()
                .map(|c| 1 + c.subcommands.len())
                .sum::<usize>()
        );
        assert!(all.iter().any(|n| n == "config|get"));
        assert_eq!(names("COMMAND LIST FILTERBY PATTERN GE?"), ["get"]);
        assert_eq!(
            names("COMMAND LIST FILTERBY PATTERN config|*e*"),
            [
                "config|get",
                "config|set",
                "config|resetstat",
                "config|help"
            ]
        );
        let hash = names("COMMAND LIST FILTERBY ACLCAT HASH");
        assert_eq!(hash.len(), 16);
        assert!(hash.iter().all(|n| n.starts_with('h')));
        assert_eq!(
            names("COMMAND LIST filterby aclcat dangerous"),
            [
                "keys",
                "restore",
                "flushdb",
                "flushall",
                "info",
                "config|get",
                "config|set",
                "config|resetstat",
                "client|list",
                "client|kill",
                "client|no-evict",
            ]
        );
        assert_eq!(resp2("COMMAND LIST FILTERBY MODULE x"), "*0\r\n");
        assert_eq!(resp2("COMMAND LIST FILTERBY ACLCAT nosuch"), "*0\r\n");
        for bad in [
            "COMMAND LIST foo",
            "COMMAND LIST FILTERBY x y",
            "COMMAND LIST FILTERBY PATTERN",
            "COMMAND LIST FILTERBY MODULE x extra",
            "COMMAND LIST FILTERBY PATTERN z* FILTERBY ACLCAT hash",
        ] {
            assert_eq!(resp2(bad), "-ERR syntax error\r\n", "{bad}");
        }
    }

    #[test]
    fn docs_shape() {
        assert_eq!(
            resp2("COMMAND DOCS get nosuch"),
            "*2\r\n$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
             $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n\
             $10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
        );
        assert_eq!(resp2("COMMAND DOCS nosuch"), "*0\r\n");
        assert_eq!(run(Protocol::Resp3, "COMMAND DOCS nosuch"), "%0\r\n");
        let config = run(Protocol::Resp3, "COMMAND DOCS config");
        assert!(config.starts_with("%1\r\n$6\r\nconfig\r\n%5\r\n$7\r\nsummary\r\n"));
        assert!(config.contains("$11\r\nsubcommands\r\n%4\r\n$10\r\nconfig|get\r\n%4\r\n"));
        let all = run(Protocol::Resp3, "COMMAND DOCS");
        assert!(all.starts_with(&format!("%{}\r\n$3\r\nget\r\n", COMMANDS.len())));
    }

    #[test]
    fn every_row_has_docs() {
        for spec in COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
        {
            let d = doc(spec.name).unwrap_or_else(|| panic!("no docs for {}", spec.name));
            assert!(
                !d.summary.is_empty() && !d.since.is_empty(),
                "{}",
                spec.name
            );
        }
        for d in DOCS {
            assert!(
                lookup_fullname(d.name.as_bytes()).is_some(),
                "docs for unknown {}",
                d.name
            );
        }
    }

    #[test]
    fn help_lists_subcommands() {
        let help = resp2("COMMAND HELP");
        assert!(help.starts_with(
            "*19\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ));
        assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
    }

    #[test]
    fn acl_categories_like_redis() {
        let cats = |name: &str| acl_categories(lookup_fullname(name.as_bytes()).unwrap());
        assert_eq!(cats("get"), ["@read", "@string", "@fast"]);
        assert_eq!(cats("del"), ["@keyspace", "@write", "@slow"]);
        assert_eq!(cats("keys"), ["@keyspace", "@read", "@slow", "@dangerous"]);
        assert_eq!(
            cats("bzpopmin"),
            ["@write", "@sortedset", "@fast", "@blocking"]
        );
        assert_eq!(cats("watch"), ["@fast", "@transaction"]);
        assert_eq!(cats("info"), ["@slow", "@dangerous"]);
        assert_eq!(cats("time"), ["@fast"]);
        assert_eq!(cats("publish"), ["@pubsub", "@fast"]);
        assert_eq!(cats("command"), ["@slow", "@connection"]);
        assert_eq!(cats("object"), ["@slow"]);
        assert_eq!(cats("object|help"), ["@keyspace", "@slow"]);
        assert_eq!(cats("memory|usage"), ["@read", "@slow"]);
        assert_eq!(cats("pubsub|help"), ["@slow"]);
        assert_eq!(
            cats("client|list"),
            ["@admin", "@slow", "@dangerous", "@connection"]
        );
        assert_eq!(cats("cluster|slots"), ["@slow"]);
    }

    #[test]
    fn private_bits_are_not_reported() {
        assert_eq!(
            flag_names(lookup(b"ping").unwrap()),
            ["fast"],
            "KEYLESS and PUBSUB_CONTEXT stay private"
        );
        assert_eq!(
            flag_names(lookup(b"blmpop").unwrap()),
            ["write", "blocking", "movablekeys"]
        );
        assert_eq!(
            flag_names(lookup(b"quit").unwrap()),
            [
                "noscript",
                "loading",
                "stale",
                "fast",
                "no_auth",
                "allow_busy"
            ]
        );
    }

    #[test]
    fn glob_like_redis() {
        let m = |p: &str, s: &str| glob_match_nocase(p.as_bytes(), s.as_bytes());
        assert!(m("*", "anything"));
        assert!(m("GE?", "get"));
        assert!(m("h[a-g]*", "hget"));
        assert!(!m("h[^a-g]*", "hget"));
        assert!(m("config\\|get", "config|get"));
        assert!(m("[c-a]*", "bitop"));
        assert!(!m("[Z-a]*", "z"));
        assert!(!m("z*[", "zadd"));
        assert!(!m("a*b", "acc"));
        // Many stars against a name that does not match: no exponential search.
        assert!(!m(&"*a".repeat(40), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    }
}
