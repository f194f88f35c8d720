"""The network and how it is fitted: MobileNetV2 + head, two-phase training, mask guidance, the exported graph."""
