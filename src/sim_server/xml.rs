//! A tiny XML writer for the AWS query APIs' responses: nested elements by closure (so tags
//! always balance) and escaped text. No attributes except the root's `xmlns`, no pretty
//! printing: the SDKs only read elements and text.

use std::fmt::Write;

/// An XML document under construction.
pub(crate) struct Xml {
    buf: String,
}

impl Xml {
    /// Writes `<?xml …?>` and the root element `<name xmlns="…">`; [`Xml::finish`] closes it.
    pub(crate) fn document(root: &str, xmlns: Option<&str>, body: impl FnOnce(&mut Xml)) -> String {
        let mut x = Xml {
            buf: String::with_capacity(4096),
        };
        x.buf
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        x.buf.push_str(root);
        if let Some(ns) = xmlns {
            x.buf.push_str(" xmlns=\"");
            escape_into(&mut x.buf, ns);
            x.buf.push('"');
        }
        x.buf.push('>');
        body(&mut x);
        x.buf.push_str("</");
        x.buf.push_str(root);
        x.buf.push_str(">\n");
        x.buf
    }

    /// `<name>…</name>` with children written by `body`.
    pub(crate) fn elem(&mut self, name: &str, body: impl FnOnce(&mut Xml)) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        body(self);
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// `<name>text</name>`, the text escaped.
    pub(crate) fn text(&mut self, name: &str, text: impl AsRef<str>) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        escape_into(&mut self.buf, text.as_ref());
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    /// `<name>value</name>` for numbers and booleans.
    pub(crate) fn value(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.buf, "<{name}>{value}</{name}>");
    }

    /// `<name>text</name>` when there is a text.
    pub(crate) fn opt_text(&mut self, name: &str, text: Option<impl AsRef<str>>) {
        if let Some(t) = text {
            self.text(name, t);
        }
    }

    /// A list of texts, each in its own `<item_name>` (`member` for Auto Scaling).
    pub(crate) fn text_list<S: AsRef<str>>(
        &mut self,
        name: &str,
        item_name: &str,
        items: impl IntoIterator<Item = S>,
    ) {
        self.elem(name, |x| {
            for i in items {
                x.text(item_name, i);
            }
        });
    }
}

/// Escapes `s` as XML character data (also safe inside a double-quoted attribute). Characters
/// XML 1.0 forbids (most C0 controls) become U+FFFD so the document stays well-formed.
#[cfg(test)]
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_forbidden_characters() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(
            escape(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("tab\tnl\n"), "tab\tnl\n");
        assert_eq!(escape("nul\u{0}bell\u{7}"), "nul\u{FFFD}bell\u{FFFD}");
        assert_eq!(escape("ünïcödé ✓"), "ünïcödé ✓");
        // Already-escaped text is escaped again: the writer never interprets its input.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn nests_and_balances() {
        let doc = Xml::document("R", Some("http://x/?a=1&b=2"), |x| {
            x.elem("list", |x| {
                x.text("item", "<1>");
                x.value("n", 16);
                x.opt_text("absent", None::<&str>);
            });
            x.text_list("zones", "member", ["a", "b"]);
            x.elem("empty", |_| {});
        });
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"http://x/?a=1&amp;b=2\">\
             <list><item>&lt;1&gt;</item><n>16</n></list>\
             <zones><member>a</member><member>b</member></zones><empty></empty></R>\n"
        );
    }
}
