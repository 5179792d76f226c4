"""DINOv2 self-supervised training: losses, heads, masking, schedules, optimizer, train state, step and loop."""
