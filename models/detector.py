"""The detector: a recurrent 4-stage backbone, a PAFPN neck and a YOLOX-style head.

Input is a clip of event histograms (batch, time, 2*T, H, W). Convolutions run on all frames
of the clip at once; only the ConvLSTM steps through time, carrying its state from frame to
frame (and from clip to clip when the caller passes the state back in).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import Config

STAGE_STRIDES = (4, 8, 16, 32)
LstmState = list[tuple[torch.Tensor, torch.Tensor] | None]


class ConvBnAct(nn.Sequential):
    """Convolution, batch norm, SiLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.SiLU(inplace=True),
        )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvBnAct(channels, channels), ConvBnAct(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvLSTM(nn.Module):
    """A convolutional LSTM stepping through the time axis; its output is added to its input.

    The input-to-gate 1x1 convolution runs on all frames at once; only the 3x3 hidden-to-gate
    convolution (which lets memory follow moving objects) runs per frame.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input_gates = nn.Conv2d(channels, 4 * channels, 1)
        self.hidden_gates = nn.Conv2d(channels, 4 * channels, 3, padding=1, bias=False)
        with torch.no_grad():  # forget gate biased open: remember by default
            self.input_gates.bias.zero_()
            self.input_gates.bias[channels : 2 * channels].fill_(1.0)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, steps = x.shape[:2]
        gates_x = self.input_gates(x.flatten(0, 1)).unflatten(0, (batch, steps))
        if state is None:
            zeros = x.new_zeros(batch, *x.shape[2:])
            state = (zeros, zeros)
        hidden, cell = state
        outputs = []
        for t in range(steps):
            gates = gates_x[:, t] + self.hidden_gates(hidden)
            i, f, o, g = gates.chunk(4, dim=1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            hidden = torch.sigmoid(o) * torch.tanh(cell)
            outputs.append(hidden)
        return x + torch.stack(outputs, dim=1), (hidden, cell)


class Backbone(nn.Module):
    """Four stages with strides 4, 8, 16, 32, each optionally followed by a ConvLSTM."""

    def __init__(
        self, in_channels: int, widths: list[int], depths: list[int], lstm_stages: list[int]
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        self.lstms = nn.ModuleList()
        c_prev = in_channels
        for index, (width, depth) in enumerate(zip(widths, depths, strict=True)):
            if index == 0:  # stride 4 in two steps: a stride-4 kernel would skip pixels
                half = max(width // 2, 1)
                down = [ConvBnAct(c_prev, half, 3, 2), ConvBnAct(half, width, 3, 2)]
            else:
                down = [ConvBnAct(c_prev, width, 3, 2)]
            blocks = [ResidualBlock(width) for _ in range(depth)]
            self.stages.append(nn.Sequential(*down, *blocks))
            self.lstms.append(ConvLSTM(width) if index + 1 in lstm_stages else nn.Identity())
            c_prev = width

    def forward(self, x: torch.Tensor, state: LstmState) -> tuple[list[torch.Tensor], LstmState]:
        """x: (B, L, C, H, W) -> per-stage features (B*L, C_i, H_i, W_i) and the new state."""
        batch, steps = x.shape[:2]
        features, new_state = [], []
        for stage, lstm, stage_state in zip(self.stages, self.lstms, state, strict=True):
            x = stage(x.flatten(0, 1)).unflatten(0, (batch, steps))
            if isinstance(lstm, ConvLSTM):
                x, stage_state = lstm(x, stage_state)
            new_state.append(stage_state)
            features.append(x.flatten(0, 1))
        return features, new_state


class PAFPN(nn.Module):
    """Path-aggregation FPN (as in YOLOX) over any number of scales, all at one width."""

    def __init__(self, in_channels: list[int], width: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(ConvBnAct(c, width, 1) for c in in_channels)
        levels = len(in_channels)
        self.top_down = nn.ModuleList(self._fuse(width) for _ in range(levels - 1))
        self.downsample = nn.ModuleList(ConvBnAct(width, width, 3, 2) for _ in range(levels - 1))
        self.bottom_up = nn.ModuleList(self._fuse(width) for _ in range(levels - 1))

    @staticmethod
    def _fuse(width: int) -> nn.Module:
        return nn.Sequential(ConvBnAct(2 * width, width, 1), ConvBnAct(width, width, 3))

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Features fine to coarse in, pyramid levels fine to coarse out."""
        lateral = [conv(f) for conv, f in zip(self.lateral, features, strict=True)]
        # Top-down: coarse context into fine levels.
        top_down = [lateral[-1]]
        for i in range(len(lateral) - 2, -1, -1):
            up = F.interpolate(top_down[0], size=lateral[i].shape[-2:], mode="nearest")
            top_down.insert(0, self.top_down[i](torch.cat([up, lateral[i]], dim=1)))
        # Bottom-up: fine localisation back into coarse levels.
        outputs = [top_down[0]]
        for i in range(1, len(top_down)):
            down = self.downsample[i - 1](outputs[-1])
            outputs.append(self.bottom_up[i - 1](torch.cat([down, top_down[i]], dim=1)))
        return outputs


class LevelHead(nn.Module):
    """Decoupled head of one pyramid level: a class branch and a box+objectness branch."""

    def __init__(self, in_channels: int, width: int, num_classes: int) -> None:
        super().__init__()
        self.cls_branch = nn.Sequential(ConvBnAct(in_channels, width), ConvBnAct(width, width))
        self.box_branch = nn.Sequential(ConvBnAct(in_channels, width), ConvBnAct(width, width))
        self.cls_pred = nn.Conv2d(width, num_classes, 1)
        self.box_pred = nn.Conv2d(width, 4, 1)
        self.obj_pred = nn.Conv2d(width, 1, 1)
        prior = -4.6  # logit of 0.01: start with few confident boxes, as YOLOX/RetinaNet do
        nn.init.constant_(self.cls_pred.bias, prior)
        nn.init.constant_(self.obj_pred.bias, prior)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        box_features = self.box_branch(x)
        classes = self.cls_pred(self.cls_branch(x))
        return torch.cat([self.box_pred(box_features), self.obj_pred(box_features), classes], 1)


class YoloxHead(nn.Module):
    """YOLOX-style anchor-free head, one per level (batch-norm statistics differ per level).

    Per grid cell it predicts (dx, dy, log w, log h) in units of the level's stride, an
    objectness logit and one logit per class.
    """

    def __init__(self, in_channels: int, width: int, num_classes: int, levels: int) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            LevelHead(in_channels, width, num_classes) for _ in range(levels)
        )

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Pyramid levels in, (N, cells, 5 + classes) out: box(4), objectness, classes."""
        outputs = [
            head(x).flatten(2).transpose(1, 2)
            for head, x in zip(self.levels, levels, strict=True)
        ]
        return torch.cat(outputs, dim=1)


class Detector(nn.Module):
    """Recurrent event-camera detector; see the module docstring."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        widths = cfg.model.widths
        self.in_stages = list(cfg.fpn.in_stages)
        self.strides = [STAGE_STRIDES[s - 1] for s in self.in_stages]
        self.num_classes = len(cfg.classes.names)
        self.backbone = Backbone(
            2 * cfg.data.time_bins, widths, cfg.model.depths, cfg.model.lstm_stages
        )
        self.neck = PAFPN([widths[s - 1] for s in self.in_stages], cfg.fpn.width)
        self.head = YoloxHead(cfg.fpn.width, cfg.head.width, self.num_classes, len(self.strides))
        self._anchor_cache: dict[tuple, torch.Tensor] = {}

    def forward(
        self, frames: torch.Tensor, state: LstmState | None = None
    ) -> tuple[torch.Tensor, LstmState]:
        """frames (B, L, 2T, H, W) -> raw predictions (B, L, cells, 5 + classes) and LSTM state."""
        batch, steps = frames.shape[:2]
        if state is None:
            state = [None] * len(self.backbone.stages)
        # log1p keeps saturated counts from dominating; BN then takes care of the scale.
        features, state = self.backbone(torch.log1p(frames.float()), state)
        levels = self.neck([features[s - 1] for s in self.in_stages])
        raw = self.head(levels)
        return raw.unflatten(0, (batch, steps)), state

    def anchors(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """(cells, 3): centre x, centre y and stride of every grid cell, in head output order."""
        key = (height, width, str(device))
        if key not in self._anchor_cache:
            rows = []
            for stride in self.strides:
                h, w = -(-height // stride), -(-width // stride)
                ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
                centres = torch.stack([xs.flatten(), ys.flatten()], dim=1).float() + 0.5
                rows.append(torch.cat([centres * stride, torch.full((h * w, 1), float(stride))], 1))
            self._anchor_cache[key] = torch.cat(rows).to(device)
        return self._anchor_cache[key]


def decode_boxes(raw: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Raw (..., cells, 4+) predictions -> boxes (..., cells, 4) as x1, y1, x2, y2 in pixels."""
    stride = anchors[:, 2:3]
    centre = anchors[:, :2] + raw[..., 0:2] * stride
    size = torch.exp(raw[..., 2:4].clamp(max=6.0)) * stride
    return torch.cat([centre - size / 2, centre + size / 2], dim=-1)
