"""The built-in example of expctl: a small recurrent event-camera detector on synthetic data.

    python -m models.train [key=value ...] [--resume]
    python -m models.evaluate checkpoint=PATH [key=value ...]

Modules: ``config`` (defaults and overrides), ``data`` (synthetic event sequences, cached),
``detector`` (backbone + ConvLSTM, PAFPN, YOLOX-style head), ``loss`` (assignment and losses),
``postprocess`` (scores and NMS), ``evaluate`` (COCO metrics), ``confusion`` (confusion
matrices), ``runtime`` (CPU threads) and ``train`` (the Accelerate training loop).
"""
