//! JSON lines: one comment a line in the upload shape of docs/protocol.md (what export
//! writes). A line that is not such a comment is a problem at its line; blank lines are
//! passed over.

use super::position::Counted;
use super::{Item, Problem};
use fastcomments_protocol::UploadComment;
use std::io::BufRead;

/// Reads `r` line by line.
pub fn read(r: impl BufRead, emit: &mut dyn FnMut(Item) -> bool) -> Result<(), Problem> {
    let mut r = Counted::new(r);
    let mut line = String::new();
    loop {
        let at = r.position();
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(Problem::at(at, format!("cannot read the file: {e}"))),
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let item = match serde_json::from_str::<UploadComment>(text) {
            Ok(c) => Item::checked(c, at),
            Err(e) => Item::Problem(Problem::at(
                (at.0, e.column() as u64),
                format!("not a comment of the upload shape: {e}"),
            )),
        };
        if !emit(item) {
            return Ok(());
        }
    }
}
