//! The `ypldap.conf` lexer: a byte-for-byte rendering of upstream's
//! pf.conf-style `yylex()` (comments, both quote styles with their escapes,
//! line continuations, numbers versus words, reserved keywords, `$macro`
//! expansion by re-lexing the raw value text, and a stack of included files).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::Diagnostic;

/// The reserved words of upstream's `lookup()` table. Unquoted, they are
/// never strings; quote them to use them as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Attribute,
    Basedn,
    Bind,
    Bindcred,
    Binddn,
    Bindext,
    Cafile,
    Certfile,
    Change,
    Class,
    Directory,
    Domain,
    Expire,
    Filter,
    Fixed,
    Gecos,
    Gid,
    Group,
    Groupdn,
    Groupgid,
    Groupmembers,
    Groupname,
    Grouppasswd,
    Home,
    Include,
    Interval,
    Keyfile,
    Ldaps,
    List,
    Local,
    Map,
    Maps,
    Name,
    Passwd,
    Port,
    Portmap,
    Provide,
    Server,
    Shell,
    Tls,
    To,
    Uid,
    User,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("attribute", Kw::Attribute),
    ("basedn", Kw::Basedn),
    ("bind", Kw::Bind),
    ("bindcred", Kw::Bindcred),
    ("binddn", Kw::Binddn),
    ("bindext", Kw::Bindext),
    ("cafile", Kw::Cafile),
    ("certfile", Kw::Certfile),
    ("change", Kw::Change),
    ("class", Kw::Class),
    ("directory", Kw::Directory),
    ("domain", Kw::Domain),
    ("expire", Kw::Expire),
    ("filter", Kw::Filter),
    ("fixed", Kw::Fixed),
    ("gecos", Kw::Gecos),
    ("gid", Kw::Gid),
    ("group", Kw::Group),
    ("groupdn", Kw::Groupdn),
    ("groupgid", Kw::Groupgid),
    ("groupmembers", Kw::Groupmembers),
    ("groupname", Kw::Groupname),
    ("grouppasswd", Kw::Grouppasswd),
    ("home", Kw::Home),
    ("include", Kw::Include),
    ("interval", Kw::Interval),
    ("keyfile", Kw::Keyfile),
    ("ldaps", Kw::Ldaps),
    ("list", Kw::List),
    ("local", Kw::Local),
    ("map", Kw::Map),
    ("maps", Kw::Maps),
    ("name", Kw::Name),
    ("passwd", Kw::Passwd),
    ("port", Kw::Port),
    ("portmap", Kw::Portmap),
    ("provide", Kw::Provide),
    ("server", Kw::Server),
    ("shell", Kw::Shell),
    ("tls", Kw::Tls),
    ("to", Kw::To),
    ("uid", Kw::Uid),
    ("user", Kw::User),
];

impl Kw {
    pub(crate) fn as_str(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }

    pub(crate) fn lookup(word: &str) -> Option<Kw> {
        KEYWORDS.iter().find(|(s, _)| *s == word).map(|(_, k)| *k)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A quoted string or an unquoted word that is no keyword.
    Str {
        s: String,
        quoted: bool,
    },
    Num(i64),
    Kw(Kw),
    /// Any other single character (`{`, `}`, `=`, `-`, or garbage).
    Char(u8),
    Newline,
    Eof,
    /// The lexer reported an error and skipped to the end of the line
    /// (newline included).
    Error,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Str { s, .. } => format!("string {s:?}"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Kw(k) => format!("keyword \"{}\"", k.as_str()),
            Tok::Char(c) if c.is_ascii_graphic() => format!("\"{}\"", *c as char),
            Tok::Char(c) => format!("character 0x{c:02x}"),
            Tok::Newline => "end of line".to_owned(),
            Tok::Eof => "end of file".to_owned(),
            Tok::Error => "invalid token".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Tok,
    pub file: Rc<str>,
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    Byte(u8),
    StartExpand,
    DoneExpand,
}

struct Source {
    name: Rc<str>,
    data: Vec<u8>,
    pos: usize,
    line: u32,
    eof_reached: bool,
}

pub(crate) struct Macro {
    pub value: String,
    pub persist: bool,
    pub used: bool,
}

/// The lexer owns the file stack, the macro table and the diagnostics.
pub(crate) struct Lexer {
    files: Vec<Source>,
    pushback: Vec<Raw>,
    expanding: bool,
    pub macros: BTreeMap<String, Macro>,
    pub diags: Vec<Diagnostic>,
    gave_up: bool,
}

/// After this many errors the rest of the input is not read.
pub(crate) const MAX_DIAGNOSTICS: usize = 1000;

fn allowed_to_end_number(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b || matches!(c, b')' | b',' | b'/' | b'}' | b'=')
}

/// Upstream's `allowed_in_string()`.
pub(crate) fn allowed_in_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || (c.is_ascii_punctuation()
            && !matches!(
                c,
                b'(' | b')' | b'{' | b'}' | b'<' | b'>' | b'!' | b'=' | b'#' | b','
            ))
}

/// Whether a word may start with `c`.
pub(crate) fn starts_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b':' || c == b'_'
}

impl Lexer {
    pub(crate) fn new(name: &str, data: Vec<u8>) -> Self {
        Lexer {
            files: vec![Source {
                name: Rc::from(name),
                data,
                pos: 0,
                line: 1,
                eof_reached: false,
            }],
            pushback: Vec::new(),
            expanding: false,
            macros: BTreeMap::new(),
            diags: Vec::new(),
            gave_up: false,
        }
    }

    /// Pushes an included file; its tokens come next.
    pub(crate) fn push_file(&mut self, name: &str, data: Vec<u8>) {
        self.files.push(Source {
            name: Rc::from(name),
            data,
            pos: 0,
            line: 1,
            eof_reached: false,
        });
    }

    pub(crate) fn depth(&self) -> usize {
        self.files.len()
    }

    /// The file being read and its current line.
    pub(crate) fn position(&self) -> (Rc<str>, u32) {
        match self.files.last() {
            Some(f) => (f.name.clone(), f.line),
            None => (Rc::from(""), 0),
        }
    }

    fn bump_line(&mut self) {
        if let Some(f) = self.files.last_mut() {
            f.line += 1;
        }
    }

    /// Defines a macro; a persistent (`-D`) one is never overridden by a
    /// definition in the file.
    pub(crate) fn define(&mut self, name: &str, value: &str, persist: bool) {
        if let Some(m) = self.macros.get(name) {
            if m.persist && !persist {
                return;
            }
        }
        self.macros.insert(
            name.to_owned(),
            Macro {
                value: value.to_owned(),
                persist,
                used: false,
            },
        );
    }

    /// Upstream's `igetc()`: the push-back buffer first, then the file.
    fn igetc(&mut self) -> Option<u8> {
        loop {
            let c = match self.pushback.pop() {
                Some(r) => r,
                None => {
                    let f = self.files.last_mut()?;
                    let b = *f.data.get(f.pos)?;
                    f.pos += 1;
                    Raw::Byte(b)
                }
            };
            match c {
                Raw::StartExpand => self.expanding = true,
                Raw::DoneExpand => self.expanding = false,
                Raw::Byte(b) => return Some(b),
            }
        }
    }

    fn ungetc(&mut self, c: Option<u8>) {
        if let Some(c) = c {
            self.pushback.push(Raw::Byte(c));
        }
    }

    /// Upstream's `lgetc(0)`: backslash handling, the faked final newline,
    /// and popping finished include files. `None` is the end of input.
    fn getc(&mut self) -> Option<u8> {
        let mut c;
        loop {
            c = self.igetc();
            if c != Some(b'\\') {
                break;
            }
            let next = self.igetc();
            if next != Some(b'\n') {
                c = next;
                break;
            }
            self.bump_line();
        }
        if c.is_none() {
            let f = self.files.last_mut()?;
            if !f.eof_reached {
                f.eof_reached = true;
                return Some(b'\n');
            }
            while c.is_none() {
                if self.files.len() <= 1 {
                    return None;
                }
                self.files.pop();
                c = self.igetc();
            }
        }
        c
    }

    /// Upstream's `lgetc(quotec)`: raw bytes, no backslash processing.
    fn getc_quoted(&mut self) -> Option<u8> {
        self.igetc()
    }

    /// Reports `message` at the current line, skips to the end of the line
    /// and returns the error token.
    fn fail(&mut self, message: String, file: Rc<str>, line: u32) -> Token {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            line,
            message,
        });
        loop {
            match self.getc() {
                Some(b'\n') => {
                    self.bump_line();
                    break;
                }
                None => break,
                Some(_) => {}
            }
        }
        Token {
            kind: Tok::Error,
            file,
            line,
        }
    }

    pub(crate) fn next_token(&mut self) -> Token {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            // Give up: report that once and end the input.
            let (file, line) = self.position();
            if !self.gave_up {
                self.gave_up = true;
                self.diags.push(Diagnostic {
                    file: file.to_string(),
                    line,
                    message: format!("too many errors ({MAX_DIAGNOSTICS}), giving up"),
                });
            }
            return Token {
                kind: Tok::Eof,
                file,
                line,
            };
        }
        loop {
            let mut c = self.getc();
            while matches!(c, Some(b' ' | b'\t')) {
                c = self.getc();
            }
            let (file, line) = self.position();
            let tok = |kind| Token {
                kind,
                file: file.clone(),
                line,
            };
            if c == Some(b'#') {
                loop {
                    c = self.getc();
                    if matches!(c, Some(b'\n') | None) {
                        break;
                    }
                }
            }
            if c == Some(b'$') && !self.expanding {
                let mut name = Vec::new();
                loop {
                    let Some(c) = self.getc() else {
                        return tok(Tok::Eof);
                    };
                    if c.is_ascii_alphanumeric() || c == b'_' {
                        name.push(c);
                        continue;
                    }
                    self.ungetc(Some(c));
                    break;
                }
                let name = String::from_utf8_lossy(&name).into_owned();
                let Some(m) = self.macros.get_mut(&name) else {
                    return self.fail(format!("macro '{name}' not defined"), file, line);
                };
                m.used = true;
                let value = m.value.clone().into_bytes();
                self.pushback.push(Raw::DoneExpand);
                self.pushback
                    .extend(value.iter().rev().map(|b| Raw::Byte(*b)));
                self.pushback.push(Raw::StartExpand);
                continue;
            }
            let Some(c) = c else {
                return tok(Tok::Eof);
            };
            if c == b'\'' || c == b'"' {
                return self.quoted(c, file, line);
            }
            let mut buf: Vec<u8> = Vec::new();
            let mut c = c;
            if c == b'-' || c.is_ascii_digit() {
                let mut next;
                loop {
                    buf.push(c);
                    next = self.getc();
                    match next {
                        Some(d) if d.is_ascii_digit() => c = d,
                        _ => break,
                    }
                }
                self.ungetc(next);
                let only_minus = buf == b"-";
                if !only_minus && next.is_none_or(allowed_to_end_number) {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    return match text.parse::<i64>() {
                        Ok(n) => tok(Tok::Num(n)),
                        Err(_) => {
                            let why = if text.starts_with('-') {
                                "too small"
                            } else {
                                "too large"
                            };
                            self.fail(format!("\"{text}\" invalid number: {why}"), file, line)
                        }
                    };
                }
                // Not a number: re-read it as a word.
                while buf.len() > 1 {
                    let b = buf.pop();
                    self.ungetc(b);
                }
                c = buf.pop().unwrap_or(b'-');
                if c == b'-' {
                    return tok(Tok::Char(c));
                }
            }
            if starts_word(c) {
                let mut next;
                buf.push(c);
                loop {
                    next = self.getc();
                    match next {
                        Some(d) if allowed_in_word(d) => buf.push(d),
                        _ => break,
                    }
                }
                self.ungetc(next);
                let word = String::from_utf8_lossy(&buf).into_owned();
                return match Kw::lookup(&word) {
                    Some(k) => tok(Tok::Kw(k)),
                    None => tok(Tok::Str {
                        s: word,
                        quoted: false,
                    }),
                };
            }
            if c == b'\n' {
                self.bump_line();
                return tok(Tok::Newline);
            }
            return tok(Tok::Char(c));
        }
    }

    fn quoted(&mut self, quotec: u8, file: Rc<str>, line: u32) -> Token {
        let mut buf = Vec::new();
        loop {
            let Some(mut c) = self.getc_quoted() else {
                self.diags.push(Diagnostic {
                    file: file.to_string(),
                    line,
                    message: "reached end of file while parsing quoted string".to_owned(),
                });
                return Token {
                    kind: Tok::Error,
                    file,
                    line,
                };
            };
            if c == b'\n' {
                self.bump_line();
                continue;
            } else if c == b'\\' {
                let Some(next) = self.getc_quoted() else {
                    continue;
                };
                if next == quotec || next == b' ' || next == b'\t' {
                    c = next;
                } else if next == b'\n' {
                    self.bump_line();
                    continue;
                } else {
                    self.ungetc(Some(next));
                }
            } else if c == quotec {
                break;
            } else if c == 0 {
                return self.fail(
                    "syntax error: NUL byte in quoted string".to_owned(),
                    file,
                    line,
                );
            }
            buf.push(c);
        }
        let s = match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Token {
            kind: Tok::Str { s, quoted: true },
            file,
            line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> Vec<Tok> {
        let mut lx = Lexer::new("t", text.as_bytes().to_vec());
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == Tok::Eof {
                break;
            }
            out.push(t.kind);
        }
        out
    }

    fn s(x: &str, quoted: bool) -> Tok {
        Tok::Str {
            s: x.to_owned(),
            quoted,
        }
    }

    #[test]
    fn words_numbers_keywords() {
        assert_eq!(
            lex("interval 300\n"),
            // The newline faked at the end of the file follows the real one.
            vec![
                Tok::Kw(Kw::Interval),
                Tok::Num(300),
                Tok::Newline,
                Tok::Newline
            ]
        );
        assert_eq!(
            lex("directory 10.0.0.5 port 3389"),
            vec![
                Tok::Kw(Kw::Directory),
                s("10.0.0.5", false),
                Tok::Kw(Kw::Port),
                Tok::Num(3389),
                Tok::Newline
            ]
        );
        assert_eq!(lex("-"), vec![Tok::Char(b'-'), Tok::Newline]);
        assert_eq!(
            lex("-12x"),
            vec![Tok::Char(b'-'), s("12x", false), Tok::Newline]
        );
        assert_eq!(
            lex("a=b"),
            vec![s("a", false), Tok::Char(b'='), s("b", false), Tok::Newline]
        );
        assert_eq!(lex("7}"), vec![Tok::Num(7), Tok::Char(b'}'), Tok::Newline]);
        assert_eq!(lex("\"port\""), vec![s("port", true), Tok::Newline]);
        assert_eq!(
            lex("passwd.byname"),
            vec![s("passwd.byname", false), Tok::Newline]
        );
    }

    #[test]
    fn quoting_and_escapes() {
        assert_eq!(lex(r#""a\"b""#), vec![s("a\"b", true), Tok::Newline]);
        assert_eq!(lex(r#"'a\'b'"#), vec![s("a'b", true), Tok::Newline]);
        assert_eq!(lex(r#"'a\"b'"#), vec![s("a\\\"b", true), Tok::Newline]);
        assert_eq!(
            lex(r#""a\ b\	c\n""#),
            vec![s("a b\tc\\n", true), Tok::Newline]
        );
        assert_eq!(lex("\"a\\\nb\""), vec![s("ab", true), Tok::Newline]);
        assert_eq!(lex("\"a\nb\""), vec![s("ab", true), Tok::Newline]);
        // `\\` keeps one backslash and re-reads the second as an escape.
        assert_eq!(lex(r#""a\\"x""#), vec![s("a\\\"x", true), Tok::Newline]);
        assert_eq!(lex("\"a\\\\\n\""), vec![s("a\\", true), Tok::Newline]);
        // Outside quotes a backslash takes the next character literally.
        assert_eq!(lex("a\\\\b"), vec![s("a\\b", false), Tok::Newline]);
        assert_eq!(
            lex("domain \\\n \"x\"\n"),
            vec![
                Tok::Kw(Kw::Domain),
                s("x", true),
                Tok::Newline,
                Tok::Newline
            ]
        );
    }

    #[test]
    fn comments_and_line_numbers() {
        let mut lx = Lexer::new("t", b"# c\n\"a\nb\" x # y\nz".to_vec());
        let mut lines = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == Tok::Eof {
                break;
            }
            lines.push((t.kind, t.line));
        }
        assert_eq!(
            lines,
            vec![
                (Tok::Newline, 1),
                (s("ab", true), 2),
                (s("x", false), 3),
                (Tok::Newline, 3),
                (s("z", false), 4),
                (Tok::Newline, 4)
            ]
        );
    }

    #[test]
    fn lexer_errors() {
        let mut lx = Lexer::new("t", b"x \"abc".to_vec());
        while lx.next_token().kind != Tok::Eof {}
        assert_eq!(
            lx.diags[0].to_string(),
            "t:1: reached end of file while parsing quoted string"
        );
        let mut lx = Lexer::new("t", b"99999999999999999999 a\nb".to_vec());
        assert_eq!(lx.next_token().kind, Tok::Error);
        assert_eq!(lx.next_token().kind, s("b", false));
        assert_eq!(
            lx.diags[0].to_string(),
            "t:1: \"99999999999999999999\" invalid number: too large"
        );
        let mut lx = Lexer::new("t", b"\"a\0\" b\nc".to_vec());
        assert_eq!(lx.next_token().kind, Tok::Error);
        assert_eq!(lx.next_token().kind, s("c", false));
    }

    #[test]
    fn macro_expansion_relexes_raw_text() {
        let mut lx = Lexer::new("t", b"$a $b x".to_vec());
        lx.define("a", "\"q r\"", false);
        lx.define("b", "1 $a", false);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.kind == Tok::Eof {
                break;
            }
            out.push(t.kind);
        }
        assert_eq!(
            out,
            vec![
                s("q r", true),
                Tok::Num(1),
                Tok::Char(b'$'),
                s("a", false),
                s("x", false),
                Tok::Newline
            ]
        );
    }
}
