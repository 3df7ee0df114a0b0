//! One shape for every rejection enum in `party` and `wallet`: a fieldless enum whose variants each
//! carry a stable snake_case code and a message for people, with `ALL` listing them so that the API's
//! documentation and the tests can enumerate every code a module may answer.

/// Declares a rejection enum: `Variant => "code", "message",` per line.
macro_rules! rejection_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, $message:literal, )+
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

            /// A sentence for people; may be reworded, unlike the code.
            pub fn message(self) -> &'static str {
                match self {
                    $( $name::$variant => $message, )+
                }
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
