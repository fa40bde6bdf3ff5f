//! Compiling watches: each distinct term folded once and added to one automaton, each watch's
//! condition made a tree of nodes over the term ids, with where each term occurs.
//!
//! Owns [`WatchSet::compile`] and the `Builder` it uses; the compiled types are the parent's.

use super::*;
use crate::text::proclitic;

struct Builder {
    terms: Vec<CompiledTerm>,
    term_index: std::collections::HashMap<TermSpec, usize>,
    folded: Vec<String>,
    pattern_index: std::collections::HashMap<String, usize>,
    pattern_terms: Vec<Vec<usize>>,
}

impl Builder {
    fn term(&mut self, spec: &TermSpec) -> usize {
        if let Some(&i) = self.term_index.get(spec) {
            return i;
        }
        let folded = fold_term(&spec.text);
        let first = folded.chars().next().unwrap_or(' ');
        let last = folded.chars().next_back().unwrap_or(' ');
        let id = self.terms.len();
        let exact = spec
            .kind
            .is_exact_case()
            .then(|| fold_keep_case(&spec.text));
        self.terms.push(CompiledTerm {
            spec: spec.clone(),
            label: spec.to_string().into(),
            exact_contracted: exact.as_deref().and_then(proclitic::contracted),
            exact,
            need_left: !is_unspaced(first),
            need_right: !spec.kind.is_prefix() && !is_unspaced(last) && !is_hangul(last),
            uncapped: false,
        });
        self.term_index.insert(spec.clone(), id);
        if folded.is_empty() {
            // A term of nothing but punctuation or lone marks folds to nothing and matches
            // nothing; as an automaton pattern it would match between any two bytes, even
            // inside a character.
            return id;
        }
        // An Arabic term with the article is also spelled without its alef after ل ("الجيش",
        // "للجيش"): another pattern of the same term, found and checked like its own.
        let contracted = proclitic::contracted(&folded);
        for pattern in std::iter::once(folded).chain(contracted) {
            let pat = self.pattern(pattern);
            if !self.pattern_terms[pat].contains(&id) {
                self.pattern_terms[pat].push(id);
            }
        }
        id
    }

    /// The id of folded pattern `folded`, added when new.
    fn pattern(&mut self, folded: String) -> usize {
        if let Some(&p) = self.pattern_index.get(&folded) {
            return p;
        }
        let p = self.folded.len();
        self.folded.push(folded.clone());
        self.pattern_index.insert(folded, p);
        self.pattern_terms.push(Vec::new());
        p
    }

    fn node(
        &mut self,
        e: &Expr,
        default: FieldMask,
        occ: &mut Vec<Occurrence>,
        positive: &mut Vec<usize>,
        negated: bool,
    ) -> Node {
        match e {
            Expr::Term { term, field } => {
                let t = self.term(term);
                let fields = field.map_or(default, FieldMask::single);
                occ.push(Occurrence { term: t, fields });
                if !negated {
                    positive.push(occ.len() - 1);
                }
                Node::Term(occ.len() - 1)
            }
            Expr::And(v) => Node::And(
                v.iter()
                    .map(|x| self.node(x, default, occ, positive, negated))
                    .collect(),
            ),
            Expr::Or(v) => Node::Or(
                v.iter()
                    .map(|x| self.node(x, default, occ, positive, negated))
                    .collect(),
            ),
            Expr::Not(x) => Node::Not(Box::new(self.node(x, default, occ, positive, !negated))),
            Expr::Near {
                left,
                right,
                distance,
            } => Node::Near(
                Box::new(self.node(left, default, occ, positive, negated)),
                Box::new(self.node(right, default, occ, positive, negated)),
                *distance,
            ),
        }
    }
}

impl WatchSet {
    /// Compile watches into one automaton.
    pub fn compile(specs: Vec<WatchSpec>) -> Result<WatchSet, CompileError> {
        let mut b = Builder {
            terms: Vec::new(),
            term_index: Default::default(),
            folded: Vec::new(),
            pattern_index: Default::default(),
            pattern_terms: Vec::new(),
        };
        let mut watches = Vec::with_capacity(specs.len());
        let mut scan = FieldMask::default();
        for spec in &specs {
            let mut occ = Vec::new();
            let mut positive = Vec::new();
            let root = match &spec.condition {
                Condition::Terms(terms) => Node::Or(
                    terms
                        .iter()
                        .map(|t| {
                            b.node(
                                &Expr::Term {
                                    term: t.clone(),
                                    field: None,
                                },
                                spec.fields,
                                &mut occ,
                                &mut positive,
                                false,
                            )
                        })
                        .collect(),
                ),
                Condition::Query(e) => b.node(e, spec.fields, &mut occ, &mut positive, false),
            };
            let exclude = spec
                .exclude
                .iter()
                .map(|t| Occurrence {
                    term: b.term(t),
                    fields: spec.fields,
                })
                .collect::<Vec<_>>();
            for o in occ.iter().chain(&exclude) {
                scan = scan.union(o.fields);
            }
            let mut in_near = vec![false; occ.len()];
            mark_near(&root, false, &mut in_near);
            for (o, near) in occ.iter().zip(&in_near) {
                if *near {
                    b.terms[o.term].uncapped = true;
                }
            }
            watches.push(CompiledWatch {
                root,
                occ,
                positive,
                in_near,
                exclude,
            });
        }
        let mut term_watches = vec![Vec::new(); b.terms.len()];
        for (w, cw) in watches.iter().enumerate() {
            for o in cw.occ.iter().chain(&cw.exclude) {
                if term_watches[o.term].last() != Some(&w) {
                    term_watches[o.term].push(w);
                }
            }
        }
        // A pattern is loose when some term of it checks no right boundary.
        let loose: Vec<bool> = b
            .pattern_terms
            .iter()
            .map(|ts| ts.iter().any(|&t| !b.terms[t].need_right))
            .collect();
        let search = Search::new(b.folded, &loose)?;
        Ok(WatchSet {
            specs,
            watches,
            terms: b.terms,
            pattern_terms: b.pattern_terms,
            term_watches,
            search,
            scan,
        })
    }
}
