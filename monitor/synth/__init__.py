"""Synthetic lakeshore CCTV: renderer, scenario clips with ground truth, and the demo model training."""
