"""Generate the ``assist`` evaluation set: user/assistant chats with long assistant turns.

Written for memplane's retrieval evaluation (issue #16); every sentence is authored
here (templates + slot values), so the set is licence-clean and can be committed.

What it stresses, per question category:

- ``preference``: the user states a preference once, in a short turn ("I've been
  vegetarian for five years"); much later they ask for a recommendation that shares
  almost no words with it ("any ideas for the dinner party on Saturday?"), while
  long assistant turns about the same domain share many words with the question;
- ``instruction``: the same with a standing instruction ("from now on, code in Rust");
- ``extraction``: a fact buried at a random position in a long assistant turn
  ("the trail I suggested was the Zirbenweg") asked for with its distinctive words:
  keywords help, and the embedder sees only the first 256 word pieces of the turn;
- ``update``: the user states a fact, and later a newer one that replaces it ("I
  moved to Porto"); the evidence is only the newer turn (knowledge-update awareness).

Every conversation is one scope; turns carry ``observed_at`` (a session a few days
apart). ``python -m tests.bench.evalsets.gen_assist --seed 1`` writes
``assist-1.json``; seed 1 is the development split, seed 2 the held-out one.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --- long assistant answers ------------------------------------------------------------
# Each domain: user questions that open a session, and sentence templates the
# assistant's long answers are composed from ({x} is filled from the domain's nouns).
DOMAINS: dict[str, dict[str, list[str]]] = {
    "food": {
        "asks": [
            "What should I cook for dinner this week?",
            "Can you suggest a good recipe for a weekend lunch?",
            "How do I plan meals for a busy week?",
            "What is a good dish to bring to a dinner party?",
            "Any tips for cooking for a group of friends?",
        ],
        "nouns": ["a roast chicken", "a beef stew", "a seafood paella", "a pasta bake",
                  "grilled salmon", "a pork stir fry", "a lamb curry", "a mushroom risotto",
                  "a shrimp tacos platter", "a cheese board"],
        "lines": [
            "For dinner, {x} is a reliable choice because most of the work happens in the oven or the pot.",
            "If you are cooking for friends, {x} scales well and you can prepare most of it in advance.",
            "A good recipe for {x} starts with fresh ingredients and a little patience with the seasoning.",
            "Plan your meals around one big dish such as {x} and reuse the leftovers for lunch.",
            "Many people like {x} for a dinner party since it can sit warm while guests arrive.",
            "When you cook {x}, taste as you go and adjust salt and acid at the end.",
            "Serve {x} with a simple salad and some bread so the meal feels complete.",
            "You can make the sauce for {x} the day before, which saves a lot of time in the evening.",
            "A weekend lunch could be {x} followed by fruit and coffee.",
            "Shopping once for the week is easier if you write down what {x} needs.",
        ],
    },
    "travel": {
        "asks": [
            "Where should I go for a short holiday next month?",
            "How do I plan a trip on a budget?",
            "What are good ideas for a long weekend away?",
            "Can you help me pick a destination for a summer vacation?",
            "What should I pack for a week of travel?",
        ],
        "nouns": ["a beach resort in Mallorca", "a ski chalet in the Alps", "a city break in Paris",
                  "a cruise along the coast", "a party weekend in Ibiza", "a theme park hotel",
                  "a safari lodge", "a road trip through Texas", "a golf hotel in Algarve",
                  "a nightlife tour of Berlin"],
        "lines": [
            "For a short holiday, {x} is popular because travel time is low and there is plenty to do.",
            "If you want a trip on a budget, consider {x} outside the peak season.",
            "A long weekend away could be {x}, which many travellers enjoy.",
            "When you pick a destination, compare flights, hotels and the weather for {x}.",
            "Pack light for {x}: a few layers, comfortable shoes and a charger go a long way.",
            "Booking {x} early usually gives you better prices and more choice.",
            "Many people plan their vacation around {x} and spend the rest of the time relaxing.",
            "Travel insurance is worth having for {x}, especially if plans might change.",
            "Check the local holidays before you travel, since {x} can get crowded.",
            "A week of travel to {x} is enough to see the highlights without rushing.",
        ],
    },
    "code": {
        "asks": [
            "How do I read a JSON file and print one field?",
            "Can you show me how to sort a list of records by date?",
            "What is a clean way to retry a failing network request?",
            "How should I write a small command line tool?",
            "Can you give me an example of reading a CSV file?",
        ],
        "nouns": ["a Python script", "a JavaScript function", "a Java class", "a shell script",
                  "a Python module", "a Node.js program", "a PHP page", "a Ruby method",
                  "a C# class", "a Go-style loop in Python"],
        "lines": [
            "The simplest approach is {x} that opens the file, parses it and prints the field you need.",
            "Here is how you could write {x}: read the input, validate it, then transform it.",
            "To sort records by date, {x} can convert each date first and then use a key function.",
            "For retries, wrap the request in {x} with a counter and an exponential backoff.",
            "A small command line tool works well as {x} with clear arguments and a help message.",
            "Reading a CSV file in {x} takes a few lines with the standard library.",
            "Remember to handle errors in {x}, for example a missing file or invalid data.",
            "You can test {x} with a tiny sample file before running it on real data.",
            "Logging what {x} does makes it much easier to debug later.",
            "Keep {x} short and split it into functions once it grows past a screen.",
        ],
    },
    "movies": {
        "asks": [
            "What movie should I watch tonight?",
            "Can you recommend a series for the weekend?",
            "What are some good films to watch with friends?",
            "Any suggestions for a movie night?",
            "What should I stream this evening?",
        ],
        "nouns": ["a classic horror film", "a slasher movie", "a zombie series", "a gory thriller",
                  "a haunted house film", "a crime drama", "a war movie", "a superhero blockbuster",
                  "a dark psychological thriller", "a monster movie"],
        "lines": [
            "For a movie night, {x} is a crowd favourite and easy to find on streaming services.",
            "If you want something to watch tonight, try {x} with the lights off.",
            "A good series for the weekend could be {x}, which keeps people talking.",
            "Watching {x} with friends works well because everyone reacts to the same scenes.",
            "Critics often recommend {x} as a starting point for the genre.",
            "Make some popcorn and pick {x} if you want an exciting evening.",
            "Streaming platforms rotate their catalogues, so {x} may only be available this month.",
            "Many viewers rate {x} highly for its atmosphere and pacing.",
            "You could pair {x} with a lighter film afterwards.",
            "If you enjoy tension, {x} is a safe recommendation.",
        ],
    },
    "fitness": {
        "asks": [
            "How should I start exercising again?",
            "What is a good weekly workout plan?",
            "How can I get fitter before the summer?",
            "What exercise should I do in the morning?",
            "Can you suggest a routine to build strength?",
        ],
        "nouns": ["running intervals", "heavy squats", "a high-impact cardio class", "jump training",
                  "long-distance running", "deadlifts", "a boxing workout", "burpee circuits",
                  "hill sprints", "a crossfit session"],
        "lines": [
            "To start exercising again, {x} two or three times a week is a common recommendation.",
            "A weekly workout plan could combine {x} with rest days in between.",
            "Getting fitter before the summer is realistic if you add {x} gradually.",
            "In the morning, {x} wakes you up and leaves the evening free.",
            "Building strength usually means progressive overload, for example with {x}.",
            "Warm up for ten minutes before {x} to reduce the risk of injury.",
            "Track how you feel after {x} and adjust the intensity over time.",
            "Many coaches suggest {x} because it gives quick results.",
            "Drink enough water and sleep well on the days you do {x}.",
            "A routine built around {x} can be done at home or at the gym.",
        ],
    },
    "gifts": {
        "asks": [
            "What should I buy my friend for her birthday?",
            "Can you suggest a present for a colleague?",
            "What is a nice gift for someone who has everything?",
            "Any ideas for a thank-you present?",
            "What could I get for a housewarming?",
        ],
        "nouns": ["a bottle of wine", "a scented candle set", "a leather wallet", "flowers",
                  "a box of chocolates", "a cookbook", "a gift card", "a plant",
                  "a fancy whisky", "a spa voucher"],
        "lines": [
            "For a birthday, {x} is a safe present that most people appreciate.",
            "A colleague would probably like {x}, since it is thoughtful without being too personal.",
            "For someone who has everything, {x} is an easy choice.",
            "As a thank-you present, {x} with a handwritten card works well.",
            "At a housewarming, guests often bring {x}.",
            "You can usually find {x} in a local shop on short notice.",
            "Wrapping {x} nicely makes the gift feel more special.",
            "If you are unsure, ask a mutual friend whether {x} would be welcome.",
            "Setting a budget first helps when you choose {x}.",
            "Online shops can deliver {x} directly to the person.",
        ],
    },
}

GENERIC = [
    "Let me know if you would like me to go into more detail on any of these points.",
    "There is no single right answer here, so it helps to think about what matters most to you.",
    "I hope this gives you a useful starting point.",
    "It is worth keeping a short list of the options you liked so you can compare them later.",
    "Different people have different needs, and the best option depends on your situation.",
    "If you tell me more about your constraints I can narrow the suggestions down.",
    "Overall, take your time and do not feel pressured to decide immediately.",
    "A bit of planning now usually saves time and money later.",
]

# --- what the questions are about --------------------------------------------------------
# preference / instruction: (statement by the user, questions asked later, domain)
PREFERENCES = [
    ("By the way, I've been vegetarian for about five years now.",
     ["Any ideas for what I could make for the dinner party on Saturday?",
      "What should I cook for my guests this weekend?"], "food"),
    ("Just so you know, I'm severely allergic to shellfish.",
     ["Can you suggest a dish to bring to the potluck?",
      "What would be a good menu for a family lunch?"], "food"),
    ("I should mention that I hate crowds and noisy places.",
     ["Where could I go for a few days off in May?",
      "Can you help me choose a destination for my next break?"], "travel"),
    ("Honestly I get seasick very easily, boats are a nightmare for me.",
     ["What kind of holiday would you suggest for my anniversary?",
      "Any thoughts on where to spend a week in August?"], "travel"),
    ("I can't stand scary or violent films, they give me nightmares.",
     ["What should we put on for movie night tonight?",
      "Can you recommend something to stream with my partner?"], "movies"),
    ("My knees are bad, my doctor told me to avoid anything high impact.",
     ["How can I get back in shape this spring?",
      "What routine would you suggest to build some stamina?"], "fitness"),
    ("My sister doesn't drink alcohol at all, and she loves gardening.",
     ["What could I get my sister for her birthday?",
      "Any present ideas for my sister's new flat?"], "gifts"),
    ("I'm on a strict budget this year, nothing expensive please.",
     ["What could I get my colleague who is retiring?",
      "Any thank-you present ideas for my neighbour?"], "gifts"),
    ("I only eat halal food, so please keep that in mind.",
     ["What should I prepare for the barbecue with my cousins?",
      "Can you suggest a main course for Friday evening?"], "food"),
    ("I work night shifts, so mornings are when I sleep.",
     ["When should I fit exercise into my week?",
      "What time of day should I train?"], "fitness"),
]
INSTRUCTIONS = [
    ("From now on, please write all code examples in Rust, not Python.",
     ["How do I read a JSON file and print one field?",
      "Can you show me how to parse command line arguments?"], "code"),
    ("Please keep your answers short, three bullet points at most.",
     ["What should I pack for a week of travel?",
      "How do I plan a trip on a budget?"], "travel"),
    ("Always include the metric units when you mention quantities.",
     ["Can you suggest a good recipe for a weekend lunch?",
      "How much pasta should I make for six people?"], "food"),
    ("When you suggest films, only mention ones that are suitable for children.",
     ["What should we watch this evening?",
      "Any suggestions for a movie night?"], "movies"),
    ("Please don't use any third-party libraries in the code you give me.",
     ["What is a clean way to retry a failing network request?",
      "Can you give me an example of reading a CSV file?"], "code"),
    ("Explain things to me as if I were a complete beginner, I'm new to this.",
     ["What is a good weekly workout plan?",
      "Can you suggest a routine to build strength?"], "fitness"),
]
# extraction: (a sentence planted in a long assistant answer, questions about it, domain)
FACTS = [
    ("The trail I would pick is the Zirbenweg above Innsbruck, about seven kilometres with little climbing.",
     ["What was the name of the trail near Innsbruck you mentioned?"], "travel"),
    ("For the stew, the trick is to add a spoon of smoked paprika and a splash of sherry vinegar at the end.",
     ["What was the trick you told me for finishing the stew?"], "food"),
    ("The library I mentioned is called Tenacity, and its retry decorator takes a stop and a wait argument.",
     ["Which retry library did you recommend to me?"], "code"),
    ("A quiet guesthouse I can recommend is Casa Azul in Tavira, run by a retired teacher.",
     ["What was the guesthouse in Tavira called?"], "travel"),
    ("The documentary I was thinking of is Secrets of the Sea Otters, narrated by Helen Mirren.",
     ["Who narrated the sea otter documentary you told me about?"], "movies"),
    ("The stretch worth doing every day is the couch stretch, two minutes per leg against a wall.",
     ["How long should I hold the couch stretch?"], "fitness"),
    ("The bakery on Rua Augusta sells the best pastel de nata I know, ask for them warm with cinnamon.",
     ["Where did you say I can get the best pastel de nata?"], "food"),
    ("Use the flag --dry-run with rsync first, so you see what would be copied before anything changes.",
     ["Which rsync flag did you suggest to preview the copy?"], "code"),
    ("The candle maker I like is Lumen and Wick in Bristol, they sell a fig and cedar scent.",
     ["Which candle shop in Bristol did you recommend?"], "gifts"),
    ("The ferry to Hvar leaves Split at 7:30 and takes about two hours, book the Jadrolinija one.",
     ["What time does the ferry to Hvar leave Split?"], "travel"),
]
# update: (old statement, newer statement, questions whose answer is the newer one)
UPDATES = [
    ("I live in Lyon, in a small flat near the river.",
     "Big news: I moved to Porto last month, the new place is great.",
     ["Which city do I live in at the moment?", "Where is my home these days?"]),
    ("I work as a nurse at the children's hospital.",
     "I finally changed careers, I'm a software tester at a startup now.",
     ["What do I do for a living now?", "What is my current job?"]),
    ("My car is an old red Fiat Panda.",
     "I sold the Panda and bought an electric Renault Zoe last week.",
     ["What car do I drive now?", "Which car do I currently own?"]),
    ("I'm learning Spanish on weekday evenings.",
     "I gave up Spanish and started learning Japanese instead.",
     ["Which language am I studying right now?", "What language am I currently learning?"]),
    ("My dog is called Biscuit, a lazy old beagle.",
     "We adopted a second dog, a greyhound called Rocket, and sadly Biscuit passed away.",
     ["What is the name of my dog now?", "Which dog do I have at the moment?"]),
    ("My manager is Sandra, she is very supportive.",
     "Sandra left the company, my new manager is a man called Tobias.",
     ["Who is my manager these days?", "Who do I report to now?"]),
    ("I go climbing every Tuesday at the bouldering gym.",
     "I stopped climbing because of my shoulder, now I swim on Tuesdays.",
     ["What do I do on Tuesdays now?", "Which sport do I do these days?"]),
    ("My partner and I rent a flat on the third floor.",
     "We bought a house with a garden, we moved in two weeks ago.",
     ["Do I rent or own my home?", "Where do we live now, a flat or a house?"]),
]
CATEGORIES = {1: "preference", 2: "instruction", 3: "extraction", 4: "update"}


def _acknowledge(rng: random.Random) -> str:
    return rng.choice([
        "Thanks for telling me, I will keep that in mind.",
        "Good to know, noted.",
        "Understood, I will take that into account.",
        "Thank you, that is helpful context.",
    ])


def _long_answer(rng: random.Random, domain: str, words: int, planted: str | None = None) -> str:
    d = DOMAINS[domain]
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        if rng.random() < 0.2:
            sentences.append(rng.choice(GENERIC))
        else:
            sentences.append(rng.choice(d["lines"]).format(x=rng.choice(d["nouns"])))
    if planted is not None:
        sentences.insert(rng.randrange(len(sentences) // 3, len(sentences) + 1), planted)
    return " ".join(sentences)


def conversation(rng: random.Random, index: int) -> dict[str, object]:
    turns: list[dict[str, object]] = []
    questions: list[dict[str, object]] = []
    start = datetime(2024, 1, 8, 18, 0, tzinfo=UTC) + timedelta(days=rng.randrange(0, 300))
    prefs = rng.sample(PREFERENCES, 4)
    instrs = rng.sample(INSTRUCTIONS, 3)
    facts = rng.sample(FACTS, 5)
    updates = rng.sample(UPDATES, 3)
    # the events planted in sessions, in time order; updates need two sessions apart
    events: list[tuple[str, object]] = (
        [("pref", p) for p in prefs] + [("instr", i) for i in instrs]
        + [("fact", f) for f in facts] + [("old", u) for u in updates]
    )
    rng.shuffle(events)
    sessions = 24
    slots: list[list[tuple[str, object]]] = [[] for _ in range(sessions)]
    for n, ev in enumerate(events):
        slots[n % (sessions - 6)].append(ev)
    for u in updates:  # the newer statement comes in one of the last sessions
        slots[rng.randrange(sessions - 6, sessions)].append(("new", u))
    old_ids: dict[int, str] = {}

    def add(role: str, text: str, when: datetime) -> str:
        tid = f"c{index}:t{len(turns)}"
        turns.append({"id": tid, "role": role, "text": f"{role}: {text}", "observed_at": when.isoformat()})
        return tid

    for s in range(sessions):
        when = start + timedelta(days=3 * s)
        domain = rng.choice(list(DOMAINS))
        for exchange in range(rng.randint(2, 3)):
            t = when + timedelta(minutes=5 * exchange)
            add("user", rng.choice(DOMAINS[domain]["asks"]), t)
            add("assistant", _long_answer(rng, domain, rng.randint(150, 500)), t)
        for kind, ev in slots[s]:
            t = when + timedelta(minutes=30)
            if kind in ("pref", "instr"):
                statement, asks, dom = ev  # type: ignore[misc]
                sid = add("user", statement, t)
                add("assistant", _acknowledge(rng) + " " + _long_answer(rng, dom, rng.randint(80, 200)), t)
                q = rng.choice(asks)
                questions.append({"question": q, "category": 1 if kind == "pref" else 2, "evidence": [sid]})
            elif kind == "fact":
                planted, asks, dom = ev  # type: ignore[misc]
                add("user", rng.choice(DOMAINS[dom]["asks"]), t)
                fid = add("assistant", _long_answer(rng, dom, rng.randint(250, 550), planted), t)
                questions.append({"question": rng.choice(asks), "category": 3, "evidence": [fid]})
            elif kind == "old":
                old, _new, _asks = ev  # type: ignore[misc]
                old_ids[id(ev)] = add("user", old, t)
                add("assistant", _acknowledge(rng), t)
            else:
                _old, new, asks = ev  # type: ignore[misc]
                nid = add("user", new, t)
                add("assistant", _acknowledge(rng) + " Congratulations on the change.", t)
                questions.append({"question": rng.choice(asks), "category": 4, "evidence": [nid],
                                  "superseded": [old_ids[id(ev)]]})
    return {"id": f"assist-{index}", "turns": turns, "questions": questions}


def generate(seed: int, conversations: int = 12) -> dict[str, object]:
    rng = random.Random(seed)
    return {
        "name": "assist",
        "seed": seed,
        "generator": "tests/bench/evalsets/gen_assist.py",
        "licence": "authored for memplane, same licence as the repository",
        "categories": CATEGORIES,
        "conversations": [conversation(rng, i) for i in range(conversations)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=12)
    args = parser.parse_args()
    out = HERE / f"assist-{args.seed}.json"
    out.write_text(json.dumps(generate(args.seed, args.conversations), ensure_ascii=False) + "\n")
    print(out)


if __name__ == "__main__":
    main()
