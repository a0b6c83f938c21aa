//! Closed-set text columns as typed enums, with no Diesel in the domain.
//!
//! [`text_enum!`](macro@crate::text_enum) declares a plain enum with the text each variant is
//! stored and shown as, and gives it `as_str`, `parse`, `ALL`, `Display` and `FromStr`.
//! [`text_column!`](macro@crate::text_column), written in the store, makes such an enum a
//! Diesel `Text` value (`ToSql`, `FromSql`, `AsExpression`, `Queryable`), so a row struct
//! holds the enum itself and a stored value this version does not know is a
//! deserialization error (a store fault), never a silent default.
//!
//! ```
//! trellis_platform::text_enum! {
//!     /// Where an API key travels.
//!     pub enum Placement { Header = "HEADER", Query = "QUERY_PARAMETER" }
//! }
//! trellis_platform::text_column!(Placement);
//!
//! assert_eq!(Placement::Header.as_str(), "HEADER");
//! assert_eq!(Placement::parse("QUERY_PARAMETER"), Some(Placement::Query));
//! assert_eq!(Placement::parse("header"), None);
//! ```

/// A plain enum over a closed set of texts; see the [module](mod@crate::text_enum).
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text this variant is stored and shown as.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant stored as `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::string::String;

            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($name)))
            }
        }
    };
}

/// Makes a [`text_enum!`](macro@crate::text_enum) a Diesel `Text` value on PostgreSQL; see
/// the [module](mod@crate::text_enum). It writes what `#[derive(AsExpression, FromSqlRow)]`
/// would, which a store cannot put on a domain type.
#[macro_export]
macro_rules! text_column {
    ($ty:ty) => {
        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>,
            ) -> ::diesel::serialize::Result {
                ::std::io::Write::write_all(out, self.as_str().as_bytes())?;
                Ok(::diesel::serialize::IsNull::No)
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $ty {
            fn from_sql(value: ::diesel::pg::PgValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let text = ::std::str::from_utf8(value.as_bytes())?;
                <$ty>::parse(text)
                    .ok_or_else(|| format!("unknown {} {text:?}", stringify!($ty)).into())
            }
        }

        impl ::diesel::deserialize::Queryable<::diesel::sql_types::Text, ::diesel::pg::Pg> for $ty {
            type Row = Self;

            fn build(row: Self) -> ::diesel::deserialize::Result<Self> {
                Ok(row)
            }
        }

        impl ::diesel::expression::AsExpression<::diesel::sql_types::Text> for $ty {
            type Expression =
                ::diesel::internal::derives::as_expression::Bound<::diesel::sql_types::Text, Self>;

            fn as_expression(self) -> Self::Expression {
                ::diesel::internal::derives::as_expression::Bound::new(self)
            }
        }

        impl<'a> ::diesel::expression::AsExpression<::diesel::sql_types::Text> for &'a $ty {
            type Expression =
                ::diesel::internal::derives::as_expression::Bound<::diesel::sql_types::Text, Self>;

            fn as_expression(self) -> Self::Expression {
                ::diesel::internal::derives::as_expression::Bound::new(self)
            }
        }

        impl
            ::diesel::expression::AsExpression<
                ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
            > for $ty
        {
            type Expression = ::diesel::internal::derives::as_expression::Bound<
                ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
                Self,
            >;

            fn as_expression(self) -> Self::Expression {
                ::diesel::internal::derives::as_expression::Bound::new(self)
            }
        }

        impl<'a>
            ::diesel::expression::AsExpression<
                ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
            > for &'a $ty
        {
            type Expression = ::diesel::internal::derives::as_expression::Bound<
                ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
                Self,
            >;

            fn as_expression(self) -> Self::Expression {
                ::diesel::internal::derives::as_expression::Bound::new(self)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    crate::text_enum! {
        /// A test set.
        enum State { Planned = "PLANNED", Done = "DONE" }
    }
    crate::text_column!(State);

    #[test]
    fn variants_round_trip_through_their_text() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(*state));
        }
        assert_eq!(State::Done.to_string(), "DONE");
        assert_eq!(State::parse("done"), None);
        assert!("done".parse::<State>().is_err());
    }

    diesel::table! {
        text_enum_test (id) {
            id -> Int4,
            state -> Text,
        }
    }

    /// A row holds the enum; a stored text it does not know is an error, not a default.
    #[tokio::test]
    async fn a_column_stores_the_text_and_refuses_unknown_texts() {
        let Ok(url) = std::env::var("TRELLIS_TEST_DATABASE_URL") else {
            panic!("TRELLIS_TEST_DATABASE_URL names the test PostgreSQL (make test sets it)");
        };
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .expect("a connection");
        diesel::sql_query(
            "CREATE TEMPORARY TABLE text_enum_test (id int4 PRIMARY KEY, state text NOT NULL)",
        )
        .execute(&mut conn)
        .await
        .expect("a table");
        diesel::insert_into(text_enum_test::table)
            .values((
                text_enum_test::id.eq(1),
                text_enum_test::state.eq(State::Done),
            ))
            .execute(&mut conn)
            .await
            .expect("an insert");
        let stored: String = text_enum_test::table
            .select(text_enum_test::state)
            .filter(text_enum_test::state.eq(State::Done))
            .first(&mut conn)
            .await
            .expect("the row");
        assert_eq!(stored, "DONE");
        let state: State = text_enum_test::table
            .select(text_enum_test::state)
            .first(&mut conn)
            .await
            .expect("the enum");
        assert_eq!(state, State::Done);

        diesel::sql_query("UPDATE text_enum_test SET state = 'LOST'")
            .execute(&mut conn)
            .await
            .expect("an update");
        let unknown = text_enum_test::table
            .select(text_enum_test::state)
            .first::<State>(&mut conn)
            .await
            .expect_err("an unknown text is an error");
        assert!(format!("{unknown:?}").contains("LOST"), "{unknown:?}");
    }
}
