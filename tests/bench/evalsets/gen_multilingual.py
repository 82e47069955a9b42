"""Generate the ``multilingual`` evaluation set: personal facts in seven languages.

Written for memplane's retrieval evaluation (issue #16); every sentence is authored
here, so the set is licence-clean. Each conversation is in one language (English,
German, French, Spanish, Italian, Chinese, Japanese): six facts the user states once,
mixed with chatter built from the same vocabulary (other names, cities and dishes),
then one question per fact in the same language, paraphrased. The evaluation
embedder (all-MiniLM-L6-v2) is English-centric, so this set shows what keyword
search does where the vectors are weak, including for scripts written without spaces
(the store indexes those as character bigrams).

``python -m tests.bench.evalsets.gen_multilingual --seed 1`` writes
``multilingual-1.json``; seed 1 is the development split, seed 2 the held-out one.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent

NAMES = ["Anna", "Marco", "Yuki", "Lena", "Pablo", "Chloé", "Ivan", "Sofia", "Omar", "Mei",
         "Jonas", "Clara", "Hugo", "Nadia", "Felix", "Rosa"]
CITIES = {
    "en": ["Leeds", "Boston", "Dublin", "Perth", "Toronto", "Glasgow", "Denver", "Cardiff"],
    "de": ["Hamburg", "Leipzig", "Graz", "Basel", "Bremen", "Dresden", "Linz", "Kiel"],
    "fr": ["Lyon", "Nantes", "Lille", "Rennes", "Genève", "Toulouse", "Brest", "Nice"],
    "es": ["Sevilla", "Bilbao", "Valencia", "Granada", "Málaga", "Zaragoza", "Cádiz", "Vigo"],
    "it": ["Torino", "Bologna", "Napoli", "Verona", "Palermo", "Genova", "Trieste", "Bari"],
    "zh": ["成都", "杭州", "西安", "青岛", "厦门", "南京", "昆明", "大连"],
    "ja": ["札幌", "福岡", "仙台", "金沢", "神戸", "広島", "那覇", "松本"],
}
PETS = ["Mochi", "Pepper", "Luna", "Oscar", "Kiwi", "Bruno", "Nala", "Tofu"]
DISHES = {
    "en": ["shepherd's pie", "fish and chips", "pancakes", "chili", "apple crumble", "lasagne"],
    "de": ["Käsespätzle", "Sauerbraten", "Rouladen", "Kartoffelsalat", "Apfelstrudel", "Maultaschen"],
    "fr": ["ratatouille", "cassoulet", "tartiflette", "quiche lorraine", "bouillabaisse", "crêpes"],
    "es": ["paella", "tortilla de patatas", "gazpacho", "fabada", "churros", "pulpo a la gallega"],
    "it": ["risotto", "lasagne", "ossobuco", "carbonara", "tiramisù", "parmigiana"],
    "zh": ["麻婆豆腐", "小笼包", "宫保鸡丁", "红烧肉", "饺子", "火锅"],
    "ja": ["お好み焼き", "ラーメン", "天ぷら", "カレーライス", "すき焼き", "たこ焼き"],
}

# per language: facts (statement, question) with {name} {city} {pet} {dish}
# placeholders, and chatter templates using the same slots.
LANGS: dict[str, dict[str, list[tuple[str, str]] | list[str]]] = {
    "en": {
        "facts": [
            ("My sister is called {name}, she is two years older than me.", "What is my sister's name?"),
            ("I grew up in {city} and lived there until I was eighteen.", "Which town did I spend my childhood in?"),
            ("Our cat {pet} sleeps on the sofa all day.", "What's the name of our cat?"),
            ("Honestly my favourite meal of all is {dish}.", "Which food do I love the most?"),
            ("My best friend {name} moved to {city} last spring.", "Where does {name} live now?"),
            ("I'm saving money to buy a sailing boat one day.", "What am I putting money aside for?"),
        ],
        "chatter": [
            "My colleague {name} just came back from a trip to {city}.",
            "We had {dish} at the canteen today, it was fine.",
            "The neighbours' dog {pet} barked all night again.",
            "I watched a documentary about {city} yesterday evening.",
            "{name} asked me whether I want to join the book club.",
            "The weather has been grey and rainy all week.",
            "I need to buy new shoes before the weekend.",
            "My cousin {name} is getting married in {city} in June.",
            "Someone at work brought {dish} for lunch and the whole office smelled of it.",
            "I spent the evening cleaning the kitchen and the balcony.",
        ],
    },
    "de": {
        "facts": [
            ("Meine Schwester heißt {name} und ist zwei Jahre älter als ich.", "Wie ist der Name meiner Schwester?"),
            ("Ich bin in {city} aufgewachsen und habe dort bis achtzehn gewohnt.", "In welcher Stadt habe ich meine Kindheit verbracht?"),
            ("Unsere Katze {pet} schläft den ganzen Tag auf dem Sofa.", "Wie heißt unsere Katze?"),
            ("Mein absolutes Lieblingsessen ist {dish}.", "Welches Gericht esse ich am liebsten?"),
            ("Mein bester Freund {name} ist letzten Frühling nach {city} gezogen.", "Wo wohnt {name} jetzt?"),
            ("Ich spare Geld, um mir eines Tages ein Segelboot zu kaufen.", "Wofür lege ich Geld zur Seite?"),
        ],
        "chatter": [
            "Mein Kollege {name} ist gerade aus {city} zurückgekommen.",
            "In der Kantine gab es heute {dish}, war ganz okay.",
            "Der Hund der Nachbarn, {pet}, hat wieder die ganze Nacht gebellt.",
            "Gestern Abend habe ich eine Dokumentation über {city} gesehen.",
            "{name} hat mich gefragt, ob ich im Buchclub mitmachen will.",
            "Das Wetter war die ganze Woche grau und regnerisch.",
            "Ich muss vor dem Wochenende neue Schuhe kaufen.",
            "Mein Cousin {name} heiratet im Juni in {city}.",
            "Jemand im Büro hat {dish} mitgebracht und alles roch danach.",
            "Ich habe den Abend damit verbracht, die Küche und den Balkon zu putzen.",
        ],
    },
    "fr": {
        "facts": [
            ("Ma sœur s'appelle {name}, elle a deux ans de plus que moi.", "Quel est le prénom de ma sœur ?"),
            ("J'ai grandi à {city} et j'y ai vécu jusqu'à dix-huit ans.", "Dans quelle ville ai-je passé mon enfance ?"),
            ("Notre chat {pet} dort sur le canapé toute la journée.", "Comment s'appelle notre chat ?"),
            ("Franchement, mon plat préféré c'est {dish}.", "Quel plat est-ce que j'aime le plus ?"),
            ("Mon meilleur ami {name} a déménagé à {city} au printemps dernier.", "Où habite {name} maintenant ?"),
            ("J'économise pour m'acheter un voilier un jour.", "Pour quoi est-ce que je mets de l'argent de côté ?"),
        ],
        "chatter": [
            "Mon collègue {name} vient de rentrer d'un voyage à {city}.",
            "À la cantine il y avait {dish} aujourd'hui, c'était correct.",
            "Le chien des voisins, {pet}, a encore aboyé toute la nuit.",
            "Hier soir j'ai regardé un documentaire sur {city}.",
            "{name} m'a demandé si je voulais rejoindre le club de lecture.",
            "Il a fait gris et pluvieux toute la semaine.",
            "Je dois acheter de nouvelles chaussures avant le week-end.",
            "Mon cousin {name} se marie à {city} en juin.",
            "Quelqu'un au bureau a apporté {dish} et tout le bureau en sentait l'odeur.",
            "J'ai passé la soirée à nettoyer la cuisine et le balcon.",
        ],
    },
    "es": {
        "facts": [
            ("Mi hermana se llama {name} y tiene dos años más que yo.", "¿Cuál es el nombre de mi hermana?"),
            ("Crecí en {city} y viví allí hasta los dieciocho.", "¿En qué ciudad pasé mi infancia?"),
            ("Nuestro gato {pet} duerme en el sofá todo el día.", "¿Cómo se llama nuestro gato?"),
            ("Sinceramente, mi comida favorita es {dish}.", "¿Qué plato me gusta más?"),
            ("Mi mejor amigo {name} se mudó a {city} la primavera pasada.", "¿Dónde vive {name} ahora?"),
            ("Estoy ahorrando para comprarme un velero algún día.", "¿Para qué estoy guardando dinero?"),
        ],
        "chatter": [
            "Mi compañero {name} acaba de volver de un viaje a {city}.",
            "Hoy en el comedor había {dish}, estaba bien.",
            "El perro de los vecinos, {pet}, ladró otra vez toda la noche.",
            "Anoche vi un documental sobre {city}.",
            "{name} me preguntó si quería unirme al club de lectura.",
            "El tiempo ha estado gris y lluvioso toda la semana.",
            "Tengo que comprar zapatos nuevos antes del fin de semana.",
            "Mi primo {name} se casa en {city} en junio.",
            "Alguien en la oficina trajo {dish} y todo olía a eso.",
            "Pasé la tarde limpiando la cocina y el balcón.",
        ],
    },
    "it": {
        "facts": [
            ("Mia sorella si chiama {name} ed è più grande di me di due anni.", "Qual è il nome di mia sorella?"),
            ("Sono cresciuto a {city} e ci ho vissuto fino a diciotto anni.", "In quale città ho passato l'infanzia?"),
            ("Il nostro gatto {pet} dorme sul divano tutto il giorno.", "Come si chiama il nostro gatto?"),
            ("Sinceramente il mio piatto preferito è {dish}.", "Quale cibo mi piace di più?"),
            ("Il mio migliore amico {name} si è trasferito a {city} la primavera scorsa.", "Dove abita {name} adesso?"),
            ("Sto risparmiando per comprarmi una barca a vela un giorno.", "Per che cosa sto mettendo da parte i soldi?"),
        ],
        "chatter": [
            "Il mio collega {name} è appena tornato da un viaggio a {city}.",
            "Oggi in mensa c'era {dish}, niente di speciale.",
            "Il cane dei vicini, {pet}, ha abbaiato di nuovo tutta la notte.",
            "Ieri sera ho visto un documentario su {city}.",
            "{name} mi ha chiesto se voglio entrare nel club del libro.",
            "Il tempo è stato grigio e piovoso per tutta la settimana.",
            "Devo comprare scarpe nuove prima del fine settimana.",
            "Mio cugino {name} si sposa a {city} a giugno.",
            "Qualcuno in ufficio ha portato {dish} e si sentiva l'odore ovunque.",
            "Ho passato la serata a pulire la cucina e il balcone.",
        ],
    },
    "zh": {
        "facts": [
            ("我姐姐叫{name}，她比我大两岁。", "我姐姐的名字是什么？"),
            ("我在{city}长大，一直住到十八岁。", "我小时候是在哪个城市度过的？"),
            ("我们家的猫{pet}整天在沙发上睡觉。", "我们家的猫叫什么名字？"),
            ("说实话，我最爱吃的是{dish}。", "我最喜欢什么菜？"),
            ("我最好的朋友{name}去年春天搬到了{city}。", "{name}现在住在哪里？"),
            ("我在存钱，希望有一天能买一艘帆船。", "我存钱是为了买什么？"),
        ],
        "chatter": [
            "我的同事{name}刚从{city}旅行回来。",
            "今天食堂有{dish}，味道还行。",
            "邻居家的狗{pet}昨晚又叫了一整夜。",
            "昨天晚上我看了一部关于{city}的纪录片。",
            "{name}问我想不想参加读书会。",
            "这一周天气一直阴沉下雨。",
            "周末之前我得买一双新鞋。",
            "我表哥{name}六月在{city}结婚。",
            "办公室有人带了{dish}，整个办公室都是那个味道。",
            "我整个晚上都在打扫厨房和阳台。",
        ],
    },
    "ja": {
        "facts": [
            ("姉の名前は{name}で、私より二つ年上です。", "私の姉の名前は何ですか？"),
            ("私は{city}で育って、十八歳までそこに住んでいました。", "私が子供のころを過ごした町はどこですか？"),
            ("うちの猫の{pet}は一日中ソファで寝ています。", "うちの猫の名前は何ですか？"),
            ("正直に言うと、一番好きな料理は{dish}です。", "私が一番好きな食べ物は何ですか？"),
            ("親友の{name}は去年の春に{city}へ引っ越しました。", "{name}は今どこに住んでいますか？"),
            ("いつかヨットを買うためにお金を貯めています。", "私は何のためにお金を貯めていますか？"),
        ],
        "chatter": [
            "同僚の{name}が{city}への旅行から帰ってきました。",
            "今日の社員食堂は{dish}でした、まあまあでした。",
            "隣の家の犬の{pet}がまた一晩中吠えていました。",
            "昨日の夜、{city}についてのドキュメンタリーを見ました。",
            "{name}に読書会に入らないかと聞かれました。",
            "今週はずっと曇りで雨が多かったです。",
            "週末の前に新しい靴を買わなければなりません。",
            "いとこの{name}が六月に{city}で結婚します。",
            "会社で誰かが{dish}を持ってきて、オフィス中がその匂いでした。",
            "夜はずっと台所とベランダを掃除していました。",
        ],
    },
}
ORDER = ["en", "de", "fr", "es", "it", "zh", "ja"]
CATEGORIES = {i + 1: lang for i, lang in enumerate(ORDER)}


def conversation(rng: random.Random, lang: str, index: int) -> dict[str, object]:
    spec = LANGS[lang]
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC) + timedelta(days=rng.randrange(0, 200))

    def slots() -> dict[str, str]:
        return {"name": rng.choice(NAMES), "city": rng.choice(CITIES[lang]),
                "pet": rng.choice(PETS), "dish": rng.choice(DISHES[lang])}

    lines: list[tuple[str, str | None]] = []  # (text, question or None)
    for statement, question in spec["facts"]:  # type: ignore[misc]
        values = slots()
        lines.append((statement.format(**values), question.format(**values)))
    chatter: list[str] = spec["chatter"]  # type: ignore[assignment]
    for _ in range(54):
        lines.append((rng.choice(chatter).format(**slots()), None))
    rng.shuffle(lines)
    turns, questions = [], []
    for n, (text, question) in enumerate(lines):
        tid = f"{lang}{index}:t{n}"
        when = start + timedelta(hours=7 * n)
        turns.append({"id": tid, "role": "user", "text": f"user: {text}", "observed_at": when.isoformat()})
        if question is not None:
            questions.append({"question": question, "category": ORDER.index(lang) + 1, "evidence": [tid]})
    return {"id": f"multilingual-{lang}-{index}", "turns": turns, "questions": questions}


def generate(seed: int, per_language: int = 3) -> dict[str, object]:
    rng = random.Random(seed)
    return {
        "name": "multilingual",
        "seed": seed,
        "generator": "tests/bench/evalsets/gen_multilingual.py",
        "licence": "authored for memplane, same licence as the repository",
        "categories": CATEGORIES,
        "conversations": [conversation(rng, lang, i) for lang in ORDER for i in range(per_language)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-language", type=int, default=3)
    args = parser.parse_args()
    out = HERE / f"multilingual-{args.seed}.json"
    out.write_text(json.dumps(generate(args.seed, args.per_language), ensure_ascii=False) + "\n")
    print(out)


if __name__ == "__main__":
    main()
