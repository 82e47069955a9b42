"""The fixed inputs both systems get in the prompt-size measurement."""

from __future__ import annotations

#: ten memories already in the scope before the measured add.
EXISTING = [
    "Lives in Lisbon with her partner.",
    "Works as a data engineer at a logistics company.",
    "Prefers Python for scripting.",
    "Is allergic to peanuts.",
    "Plays five-a-side football on Tuesdays.",
    "Has a cat named Miso.",
    "Is learning Portuguese.",
    "Drinks green tea, not coffee.",
    "Reads science fiction before bed.",
    "Is planning a trip to Japan in April.",
]
#: the one-sentence add whose prompt is measured.
NEW_SENTENCE = "I just switched from Python to TypeScript for my side projects."
