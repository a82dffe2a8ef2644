"""Tools for policy officers who edit rules: lint, YAML rule tests, explain and diff."""
