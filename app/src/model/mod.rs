//! Resources as the API returns them, and the validated inputs that create
//! or change them.

pub mod localization;
pub mod user;
pub mod video;

pub use localization::{
    Localization, LocalizationChanges, LocalizationKind, LocalizationStatus, NewLocalization,
};
pub use user::{NewUser, User, UserChanges};
pub use video::{NewVideo, Video, VideoChanges, VideoStatus};

/// Defines an enum stored and sent as lowercase text, with `as_str`, `parse`
/// and `VALUES` (the accepted texts, for error messages).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Accepted texts, in declaration order.
            pub const VALUES: &'static [&'static str] = &[$($text,)+];

            /// Text form, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Parses the exact lowercase text form.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;
