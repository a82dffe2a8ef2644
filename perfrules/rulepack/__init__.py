"""Rule packs: loading and validating YAML rule files, profiles and their parameters, compiling a pack for a profile, and the policy catalogue's coverage."""
