//! A parsed formula and what it refers to.

use std::collections::BTreeSet;

use crate::ast::Expr;

/// A formula that parsed: its source text and syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    source: String,
    expr: Expr,
}

impl Formula {
    pub(crate) fn new(source: String, expr: Expr) -> Self {
        Formula { source, expr }
    }

    pub(crate) fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The text the formula was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The binding indices the formula reads (`@0` → 0).
    pub fn bindings(&self) -> BTreeSet<usize> {
        let mut bindings = BTreeSet::new();
        self.expr.walk(&mut |expr| {
            if let Expr::Binding(index) = expr {
                bindings.insert(*index);
            }
        });
        bindings
    }

    /// The variable names the formula reads (`$companyID` → `companyID`).
    pub fn variables(&self) -> BTreeSet<String> {
        let mut variables = BTreeSet::new();
        self.expr.walk(&mut |expr| {
            if let Expr::Variable(name) = expr {
                variables.insert(name.clone());
            }
        });
        variables
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn lists_bindings_and_variables() {
        let formula =
            parse("SUM(@2.a) + @0[0].b & $year & IF($companyID = 1, @2, [$year])").unwrap();
        assert_eq!(formula.bindings().into_iter().collect::<Vec<_>>(), [0, 2]);
        assert_eq!(
            formula.variables().into_iter().collect::<Vec<_>>(),
            ["companyID", "year"]
        );
        assert_eq!(
            formula.source(),
            "SUM(@2.a) + @0[0].b & $year & IF($companyID = 1, @2, [$year])"
        );
    }
}
