"""Quality: agreement (alpha, kappa, span F1 and alpha_u), aggregation, adjudication and reports."""
