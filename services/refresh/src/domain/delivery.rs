//! Where a report delivery stands (F7): the step the report loop takes next, what its
//! recipients see of it, and the fencing token of the replica that holds it.

use uuid::Uuid;

trellis_platform::text_enum! {
    /// Where a delivery is in its life.
    pub enum DeliveryStage {
        /// Its data sources are to be queued at the front (F7).
        Prepare = "prepare",
        /// To be sent at its scheduled time, or retried.
        Send = "send",
        /// Sent, skipped, or failed for good.
        Done = "done",
    }
}

trellis_platform::text_enum! {
    /// What a delivery's recipients see of it.
    pub enum DeliveryStatus {
        Refreshing = "refreshing",
        Sent = "sent",
        Failed = "failed",
        Skipped = "skipped",
    }
}

/// A replica's claim on a delivery: what it writes counts only while the claim is still
/// this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryHold {
    pub id: Uuid,
    pub claim: i32,
}
