//! One shape for every rejection enum in `party`, `wallet` and `staff`: a fieldless enum whose
//! variants each carry a stable snake_case code, the HTTP status the API always answers it with, and
//! a message for people, with `ALL` listing them so that the API's error registry, its documentation
//! and the tests can enumerate every code a module may answer. The code and its status are declared
//! together, once, here in the rule that refuses; nothing downstream keeps a table of them.
//!
//! Statuses follow one rule: a thing that does not exist is 404; a refusal because of who acts (a
//! role, a limit of the actor, a wrong secret) or because a ban or a lock stops them is 403; a
//! conflict with the current state of a record (taken, unchanged, already done, not empty, closed) is
//! 409; a value that is not acceptable is 422; a stored record that contradicts itself is 500.

/// A rule's refusal: its stable code, its HTTP status and a sentence for people.
pub trait Refusal: Copy + std::fmt::Debug + 'static {
    /// The stable machine code, part of the API contract.
    fn code(self) -> &'static str;
    /// The HTTP status the API answers this refusal with, always.
    fn status(self) -> u16;
    /// A sentence for people; may be reworded, unlike the code.
    fn message(self) -> &'static str;
}

/// Declares a rejection enum: `Variant => "code", status, "message",` per line.
macro_rules! rejection_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, $status:literal, $message:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every rejection of this kind, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The stable machine code, part of the API contract.
            pub fn code(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )+
                }
            }

            /// The HTTP status the API answers this refusal with, always.
            pub fn status(self) -> u16 {
                match self {
                    $( $name::$variant => $status, )+
                }
            }

            /// A sentence for people; may be reworded, unlike the code.
            pub fn message(self) -> &'static str {
                match self {
                    $( $name::$variant => $message, )+
                }
            }
        }

        impl $crate::Refusal for $name {
            fn code(self) -> &'static str {
                $name::code(self)
            }
            fn status(self) -> u16 {
                $name::status(self)
            }
            fn message(self) -> &'static str {
                $name::message(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::error::Error for $name {}
    };
}
