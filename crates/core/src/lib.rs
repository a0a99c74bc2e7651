//! refuge-core: the domain model, the stage machine, the event envelope and the projection.
//!
//! Pure: no I/O, no clock, no randomness. Ids, timestamps and sealed values are made by the
//! caller and passed in.

pub mod backlog;
pub mod destination;
pub mod event;
pub mod identity_file;
pub mod ids;
pub mod model;
pub mod project;
pub mod sealed;
pub mod stage;
mod vocabulary;
pub mod welfare;

pub use destination::{DestinationWish, NotAWish};
pub use event::{CanonicalError, Event, EventBody, RecordRef, canonical_json};
pub use identity_file::{IdentityLineError, parse_identity_text};
pub use ids::*;
pub use model::*;
pub use project::{
    ConcurrentEdit, LocalCodes, ProjectionError, State, concurrent_edits, merge_order,
    monthly_flow, waiting_since_after_move, waiting_since_at_registration,
};
pub use sealed::SealedSlot;
pub use stage::{Stage, TransitionError};
pub use vocabulary::{UnknownName, Vocabulary};
pub use welfare::{CheckIn, CheckReason, DueCheck, DueCutoffs, Need, WelfareSchedule, Wellbeing};
