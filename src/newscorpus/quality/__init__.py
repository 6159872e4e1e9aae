"""Quality: agreement (alpha, kappa, span F1), aggregation, adjudication and reports."""
