"""Release: versioned Hugging Face datasets (splits, card, croissant, build, publish, hydrate)."""
