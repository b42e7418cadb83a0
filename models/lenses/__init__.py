"""What reads an Analysis: attention maths, head statistics, sampling, the logit lens,
projections, positions, neighbours, tokenizer comparisons and generation."""
