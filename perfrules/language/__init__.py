"""The rule language: the typed syntax tree, the parser and type-checker, and the functions' signatures. It knows no data library and no evaluator."""
