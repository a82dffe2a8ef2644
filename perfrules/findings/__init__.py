"""The findings model: what a finding is, how its texts and values are formatted, and the batch path's findings table."""
