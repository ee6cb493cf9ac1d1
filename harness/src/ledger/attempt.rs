//! One write the load generator attempted, and how its outcome is classified.

use std::time::Duration;

use serde::Serialize;

/// Outcome of a write as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The app returned 2xx: the write must be in the database.
    Acknowledged,
    /// The write did not happen: a 4xx, or a connection that was refused before the request
    /// was sent.
    Failed,
    /// The write may or may not have happened: a timeout, a 5xx, or a connection that broke
    /// after the request was sent.
    Indeterminate,
}

impl Outcome {
    /// Classifies an HTTP status.
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Acknowledged,
            400..=499 => Self::Failed,
            _ => Self::Indeterminate,
        }
    }

    /// Classifies a request that got no response. Only a failed connect proves that the app
    /// never saw the request; a timeout or a broken connection after the connect does not.
    ///
    /// NOTE: a connect to a published port can succeed while the process in the container does
    /// not listen, because Docker's userland proxy accepts the connection and then closes it.
    /// Such a write is indeterminate, which is safe (it cannot count as lost) but less precise.
    pub fn from_send_error(error: &reqwest::Error) -> Self {
        if error.is_connect() && !error.is_timeout() {
            Self::Failed
        } else {
            Self::Indeterminate
        }
    }
}

/// One attempted write and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// Unique value of the write (the video title), which the read-back looks for.
    pub key: String,
    /// Outcome as the client saw it.
    pub outcome: Outcome,
    /// Time the request was sent, from the ledger's start.
    pub sent: Duration,
    /// Time the response or the error arrived, from the ledger's start.
    pub finished: Duration,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Id of the created resource, from a 2xx body.
    pub resource_id: Option<String>,
    /// The client error when no response arrived, or the error code of an error body.
    pub detail: Option<String>,
}

impl Attempt {
    /// Returns whether the client did not get a 2xx.
    pub fn is_unavailable(&self) -> bool {
        self.outcome != Outcome::Acknowledged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        let cases = [
            (200, Outcome::Acknowledged),
            (201, Outcome::Acknowledged),
            (204, Outcome::Acknowledged),
            (400, Outcome::Failed),
            (409, Outcome::Failed),
            (422, Outcome::Failed),
            (500, Outcome::Indeterminate),
            (502, Outcome::Indeterminate),
            (503, Outcome::Indeterminate),
            (302, Outcome::Indeterminate),
        ];
        for (status, expected) in cases {
            assert_eq!(Outcome::from_status(status), expected, "status {status}");
        }
    }
}
