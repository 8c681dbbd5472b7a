//! A validating parser for RFC 4515 LDAP search filters (string form).

/// Checks that `f` is one RFC 4515 filter. The error names the byte offset
/// and what was wrong.
pub fn validate_filter(f: &str) -> Result<(), String> {
    let mut p = FilterParser {
        s: f.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.filter()?;
    if p.pos != p.s.len() {
        return Err(p.err("trailing characters after the filter"));
    }
    Ok(())
}

/// Nesting limit, so that a hostile filter cannot exhaust the stack.
const MAX_DEPTH: usize = 100;

struct FilterParser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl FilterParser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at offset {}", self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }

    // filter = LPAREN filtercomp RPAREN
    fn filter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("filter nested too deeply"));
        }
        self.expect(b'(')?;
        match self.peek() {
            Some(b'&' | b'|') => {
                self.pos += 1;
                // filterlist = 1*filter
                if self.peek() != Some(b'(') {
                    return Err(self.err("expected '(' after '&' or '|'"));
                }
                while self.peek() == Some(b'(') {
                    self.filter()?;
                }
            }
            Some(b'!') => {
                self.pos += 1;
                self.filter()?;
            }
            _ => self.item()?,
        }
        self.expect(b')')?;
        self.depth -= 1;
        Ok(())
    }

    // item = simple / present / substring / extensible
    fn item(&mut self) -> Result<(), String> {
        if self.peek() == Some(b':') {
            // extensible without an attribute: [":dn"] ":" oid ":=" value
            self.dn_and_rule(true)?;
            return self.value(false);
        }
        self.attribute_description()?;
        match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                self.value(true)
            }
            Some(b'~' | b'>' | b'<') => {
                self.pos += 1;
                self.expect(b'=')?;
                self.value(false)
            }
            Some(b':') => {
                self.dn_and_rule(false)?;
                self.value(false)
            }
            _ => Err(self.err("expected '=', '~=', '>=', '<=' or ':'")),
        }
    }

    /// `[":dn"] [":" oid] ":="`, the rule being mandatory without an attribute.
    fn dn_and_rule(&mut self, rule_required: bool) -> Result<(), String> {
        let rest = &self.s[self.pos..];
        if rest.len() >= 3
            && rest[..3].eq_ignore_ascii_case(b":dn")
            && matches!(rest.get(3), Some(b':'))
        {
            self.pos += 3;
        }
        let mut have_rule = false;
        if self.peek() == Some(b':') && self.s.get(self.pos + 1) != Some(&b'=') {
            self.pos += 1;
            self.oid()?;
            have_rule = true;
        }
        if rule_required && !have_rule {
            return Err(self.err("extensible match without an attribute needs a matching rule"));
        }
        self.expect(b':')?;
        self.expect(b'=')
    }

    // attributedescription = attributetype options; options = *( ";" option )
    fn attribute_description(&mut self) -> Result<(), String> {
        self.oid()?;
        while self.eat(b';') {
            let start = self.pos;
            while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-') {
                self.pos += 1;
            }
            if self.pos == start {
                return Err(self.err("empty attribute option"));
            }
        }
        Ok(())
    }

    // oid = descr / numericoid
    fn oid(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => {
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-') {
                    self.pos += 1;
                }
                Ok(())
            }
            Some(c) if c.is_ascii_digit() => loop {
                self.number()?;
                if !self.eat(b'.') {
                    return Ok(());
                }
            },
            _ => Err(self.err("expected an attribute type or OID")),
        }
    }

    // number = DIGIT / ( LDIGIT 1*DIGIT )
    fn number(&mut self) -> Result<(), String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        let n = self.pos - start;
        if n == 0 {
            return Err(self.err("expected a number in the OID"));
        }
        if n > 1 && self.s[start] == b'0' {
            return Err(self.err("leading zero in an OID number"));
        }
        Ok(())
    }

    /// An assertion value up to the closing `)`; `*` is allowed only where a
    /// substring or presence filter may have it.
    fn value(&mut self, star_ok: bool) -> Result<(), String> {
        loop {
            match self.peek() {
                None | Some(b')') => return Ok(()),
                Some(b'(') => return Err(self.err("unescaped '(' in a value")),
                Some(0) => return Err(self.err("NUL in a value")),
                Some(b'*') if !star_ok => return Err(self.err("unescaped '*' in a value")),
                Some(b'\\') => {
                    let hex = |c: Option<&u8>| c.is_some_and(u8::is_ascii_hexdigit);
                    if !hex(self.s.get(self.pos + 1)) || !hex(self.s.get(self.pos + 2)) {
                        return Err(self.err("'\\' must be followed by two hex digits"));
                    }
                    self.pos += 3;
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        for f in [
            "(objectClass=posixAccount)",
            "(&(objectClass=posixAccount)(!(loginShell=/sbin/nologin)))",
            "(&(objectClass=posixAccount)(uidNumber>=1000))",
            "(|(a=b)(c<=d)(e~=f))",
            "(cn=*)",
            "(cn=J*n*Doe)",
            "(cn=*x*)",
            "(cn=**)",
            "(cn=)",
            "(cn;lang-en=x)",
            "(2.5.4.3=x)",
            "(cn:caseExactMatch:=Fred)",
            "(cn:dn:2.4.6.8.10:=Dino)",
            "(:dn:2.4.6.8.10:=Dino)",
            "(:1.2.3:=x)",
            "(o:dn:=Ace Industry)",
            "(sn=Lu\\c4\\8di\\c4\\87)",
            "(cn=\\2a\\28\\29\\5c)",
            "(cn=Jürgen)",
            "(!(!(a=b)))",
        ] {
            assert_eq!(validate_filter(f), Ok(()), "{f}");
        }
    }

    #[test]
    fn invalid() {
        for f in [
            "",
            "objectClass=posixAccount",
            "(objectClass=posixAccount",
            "(objectClass=posixAccount))",
            "(&)",
            "(|)",
            "(!)",
            "(=x)",
            "(cn)",
            "(cn~x)",
            "(cn>=a*)",
            "(cn=a(b)",
            "(cn=\\2)",
            "(cn=\\zz)",
            "(1cn=x)",
            "(01.2=x)",
            "(cn;=x)",
            "(:=x)",
            "(:dn:=x)",
            "(cn:=x*)",
            "( cn=x)",
            "(a=b)(c=d)",
        ] {
            assert!(validate_filter(f).is_err(), "{f}");
        }
        let deep = "(!".repeat(200) + "(a=b)" + &")".repeat(200);
        assert!(validate_filter(&deep).is_err());
    }
}
