//! Admin page sessions as stored.

/// An admin page session as stored, so that every node behind a load balancer knows it. The
/// pages own what `doc` holds (who signed in, the form token, a one-time message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The random id the browser's cookie holds.
    pub id: String,
    /// The session as the pages serialise it.
    pub doc: String,
    /// Nobody signed in yet (the sign-in form's session): these are capped in number.
    pub anonymous: bool,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last used, epoch ms.
    pub seen_at: i64,
}
