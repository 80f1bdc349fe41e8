//! A walk over an XML file for the two XML formats: elements opened and closed in order, with
//! their attributes and the text (character data and CDATA) directly inside, and where the walk
//! is. Text is kept only for the element that holds it, so memory stays that of one record.

use super::position::Counted;
use super::Problem;
use quick_xml::events::Event;
use quick_xml::Reader;
use std::io::BufRead;

/// One step of the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An element opens: its local name (no namespace prefix) and attributes (local names).
    Open(String, Vec<(String, String)>),
    /// The element opened last closes, with the text directly inside it.
    Close(String, String),
    /// The file ended.
    End,
}

/// Walks an XML file.
pub struct Walker<R: BufRead> {
    reader: Reader<Counted<R>>,
    buf: Vec<u8>,
    text: String,
    /// The element closed by an empty tag (`<a/>`), to report after its opening.
    pending_close: Option<String>,
    /// How deep the walk is.
    pub depth: usize,
}

impl<R: BufRead> Walker<R> {
    /// A walk over `r`.
    pub fn new(r: R) -> Walker<R> {
        let mut reader = Reader::from_reader(Counted::new(r));
        reader.config_mut().trim_text(false);
        Walker {
            reader,
            buf: Vec::new(),
            text: String::new(),
            pending_close: None,
            depth: 0,
        }
    }

    /// Where the walk is: line and column.
    pub fn position(&self) -> (u64, u64) {
        self.reader.get_ref().position()
    }

    /// The next step; `Err` when the file is not well-formed XML, with where.
    pub fn next(&mut self) -> Result<Step, Problem> {
        if let Some(name) = self.pending_close.take() {
            self.depth = self.depth.saturating_sub(1);
            return Ok(Step::Close(name, String::new()));
        }
        loop {
            self.buf.clear();
            let event = self.reader.read_event_into(&mut self.buf).map_err(|e| {
                Problem::at(
                    self.reader.get_ref().position(),
                    format!("not well-formed XML: {e}"),
                )
            })?;
            match event {
                Event::Start(e) => {
                    self.text.clear();
                    self.depth += 1;
                    return Ok(Step::Open(local(e.local_name().as_ref()), attributes(&e)));
                }
                Event::Empty(e) => {
                    self.text.clear();
                    self.depth += 1;
                    let name = local(e.local_name().as_ref());
                    self.pending_close = Some(name.clone());
                    return Ok(Step::Open(name, attributes(&e)));
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    let text = std::mem::take(&mut self.text);
                    return Ok(Step::Close(local(e.local_name().as_ref()), text));
                }
                Event::Text(t) => match t.unescape() {
                    Ok(s) => self.text.push_str(&s),
                    // HTML entities (`&eacute;`) are no XML ones: keep them as written.
                    Err(_) => self.text.push_str(&String::from_utf8_lossy(&t)),
                },
                Event::CData(c) => self
                    .text
                    .push_str(&String::from_utf8_lossy(&c.into_inner())),
                Event::Eof => return Ok(Step::End),
                _ => {}
            }
        }
    }
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .filter_map(Result::ok)
        .map(|a| {
            let value = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
            (local(a.key.local_name().as_ref()), value)
        })
        .collect()
}

/// The value of attribute `name` among `attrs`.
pub fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The field `key` of a record, trimmed, unless empty.
pub fn given(fields: &std::collections::HashMap<String, String>, key: &str) -> Option<String> {
    fields
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
