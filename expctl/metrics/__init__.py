"""Metric sources: JSONL, TensorBoard, JSON, regular expressions over logs, and the COCO and
Lightning presets. Each reader returns `metric name -> float`; see sources.read_sources."""
