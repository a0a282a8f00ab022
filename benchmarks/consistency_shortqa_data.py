"""Write the labelled short-factual-QA set of the `consistency` benchmark (issue 20), scripted, seeded.

Six families of questions with a checkable answer: "is N prime?", products of two numbers, capitals,
years of events, authors, yes/no facts. For every question a scripted model has a knowledge profile
(knows / unsure / confidently wrong): a distribution over the right fact and wrong candidates. The
answer under test and every sample (answers to the question again) and paraphrase answer (answers to
reworded questions) are drawn from that same distribution, each written with a phrasing template
picked independently of whether its fact is right: one word, a sentence, a preamble, an explanation,
a distractor ("not Sydney: Canberra"), number words, lower case. So answer length says nothing about
the label by construction, and the hard phrasings are in both classes.

Paraphrase answers come from the same distribution as samples (no built-in advantage for either
mode): the set measures how well a scorer reads agreement and contradiction in free phrasing, not
whether rewording a question changes what a real model knows.

The questions are split once into dev (about 70%) and sealed (30%) by a hash of the question, so no
question is in both; in sealed, half of all texts are also wrapped in phrasings the dev split never
uses (RESTYLE). Evaluate on sealed once, at the end.

    python benchmarks/consistency_shortqa_data.py   # writes benchmarks/data/consistency_shortqa/{dev,sealed}.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "consistency_shortqa"
N_MAX = 10

CAPITALS = {
    "Australia": ("Canberra", ["Sydney", "Melbourne"]),
    "Canada": ("Ottawa", ["Toronto", "Montreal"]),
    "Brazil": ("Brasília", ["Rio de Janeiro", "São Paulo"]),
    "Turkey": ("Ankara", ["Istanbul", "Izmir"]),
    "Switzerland": ("Bern", ["Zurich", "Geneva"]),
    "New Zealand": ("Wellington", ["Auckland", "Christchurch"]),
    "Nigeria": ("Abuja", ["Lagos", "Kano"]),
    "Pakistan": ("Islamabad", ["Karachi", "Lahore"]),
    "India": ("New Delhi", ["Mumbai", "Kolkata"]),
    "China": ("Beijing", ["Shanghai", "Nanjing"]),
    "Japan": ("Tokyo", ["Kyoto", "Osaka"]),
    "Morocco": ("Rabat", ["Casablanca", "Marrakesh"]),
    "Vietnam": ("Hanoi", ["Ho Chi Minh City", "Hue"]),
    "Myanmar": ("Naypyidaw", ["Yangon", "Mandalay"]),
    "Kazakhstan": ("Astana", ["Almaty", "Shymkent"]),
    "Tanzania": ("Dodoma", ["Dar es Salaam", "Arusha"]),
    "Germany": ("Berlin", ["Munich", "Bonn"]),
    "Italy": ("Rome", ["Milan", "Naples"]),
    "Spain": ("Madrid", ["Barcelona", "Seville"]),
    "Scotland": ("Edinburgh", ["Glasgow", "Aberdeen"]),
    "Egypt": ("Cairo", ["Alexandria", "Giza"]),
    "Kenya": ("Nairobi", ["Mombasa", "Kisumu"]),
    "Belgium": ("Brussels", ["Antwerp", "Ghent"]),
    "Poland": ("Warsaw", ["Krakow", "Gdansk"]),
    "Russia": ("Moscow", ["Saint Petersburg", "Novosibirsk"]),
    "Ukraine": ("Kyiv", ["Kharkiv", "Odesa"]),
    "Argentina": ("Buenos Aires", ["Córdoba", "Rosario"]),
    "Chile": ("Santiago", ["Valparaíso", "Concepción"]),
    "Peru": ("Lima", ["Cusco", "Arequipa"]),
    "Colombia": ("Bogotá", ["Medellín", "Cali"]),
    "Ecuador": ("Quito", ["Guayaquil", "Cuenca"]),
    "Norway": ("Oslo", ["Bergen", "Trondheim"]),
    "Sweden": ("Stockholm", ["Gothenburg", "Malmö"]),
    "Finland": ("Helsinki", ["Turku", "Tampere"]),
    "Portugal": ("Lisbon", ["Porto", "Coimbra"]),
    "Ireland": ("Dublin", ["Cork", "Galway"]),
    "Greece": ("Athens", ["Thessaloniki", "Patras"]),
    "Saudi Arabia": ("Riyadh", ["Jeddah", "Mecca"]),
    "Iran": ("Tehran", ["Isfahan", "Shiraz"]),
    "Iraq": ("Baghdad", ["Basra", "Mosul"]),
    "Syria": ("Damascus", ["Aleppo", "Homs"]),
    "Mongolia": ("Ulaanbaatar", ["Darkhan", "Erdenet"]),
    "Malta": ("Valletta", ["Sliema", "Mdina"]),
    "Cameroon": ("Yaoundé", ["Douala", "Garoua"]),
    "Benin": ("Porto-Novo", ["Cotonou", "Parakou"]),
    "Ghana": ("Accra", ["Kumasi", "Tamale"]),
    "Laos": ("Vientiane", ["Luang Prabang", "Pakse"]),
    "Bolivia": ("Sucre", ["Santa Cruz", "Cochabamba"]),
}
EVENTS = {
    "the Apollo 11 Moon landing": 1969,
    "the fall of the Berlin Wall": 1989,
    "the sinking of the Titanic": 1912,
    "the start of the First World War": 1914,
    "the storming of the Bastille": 1789,
    "the signing of the US Declaration of Independence": 1776,
    "the sealing of Magna Carta": 1215,
    "the Battle of Hastings": 1066,
    "the Wright brothers' first powered flight": 1903,
    "the Chernobyl disaster": 1986,
    "the dissolution of the Soviet Union": 1991,
    "the release of the first iPhone": 2007,
    "the signing of the Treaty of Versailles": 1919,
    "the assassination of John F. Kennedy": 1963,
    "Nelson Mandela's release from prison": 1990,
    "the launch of Sputnik 1": 1957,
    "Yuri Gagarin's flight into space": 1961,
    "the Wall Street Crash": 1929,
    "the Battle of Waterloo": 1815,
    "the publication of On the Origin of Species": 1859,
    "the completion of the Eiffel Tower": 1889,
    "the eruption of Krakatoa": 1883,
    "the Great Fire of London": 1666,
    "the posting of Luther's Ninety-five Theses": 1517,
    "the assassination of Abraham Lincoln": 1865,
    "the attack on Pearl Harbor": 1941,
    "the independence of India": 1947,
    "the launch of the Hubble Space Telescope": 1990,
    "the September 11 attacks": 2001,
    "the Challenger disaster": 1986,
    "the opening of the Panama Canal": 1914,
    "the opening of the Suez Canal": 1869,
    "Fleming's discovery of penicillin": 1928,
    "the description of the DNA double helix by Watson and Crick": 1953,
    "the Brexit referendum": 2016,
    "Columbus's first landing in the Americas": 1492,
}
BOOKS = {
    "Hamlet": ("William Shakespeare", ["Christopher Marlowe", "Ben Jonson"]),
    "Pride and Prejudice": ("Jane Austen", ["Mary Shelley", "George Eliot"]),
    "Nineteen Eighty-Four": ("George Orwell", ["Aldous Huxley", "Ray Bradbury"]),
    "Brave New World": ("Aldous Huxley", ["George Orwell", "H. G. Wells"]),
    "War and Peace": ("Leo Tolstoy", ["Fyodor Dostoevsky", "Ivan Turgenev"]),
    "Crime and Punishment": ("Fyodor Dostoevsky", ["Leo Tolstoy", "Anton Chekhov"]),
    "Don Quixote": ("Miguel de Cervantes", ["Lope de Vega", "Francisco de Quevedo"]),
    "Moby-Dick": ("Herman Melville", ["Nathaniel Hawthorne", "Mark Twain"]),
    "The Scarlet Letter": ("Nathaniel Hawthorne", ["Herman Melville", "Edgar Allan Poe"]),
    "Frankenstein": ("Mary Shelley", ["Lord Byron", "Percy Shelley"]),
    "Dracula": ("Bram Stoker", ["Sheridan Le Fanu", "Robert Louis Stevenson"]),
    "The Divine Comedy": ("Dante Alighieri", ["Petrarch", "Giovanni Boccaccio"]),
    "One Hundred Years of Solitude": ("Gabriel García Márquez", ["Jorge Luis Borges", "Mario Vargas Llosa"]),
    "Ulysses": ("James Joyce", ["Samuel Beckett", "W. B. Yeats"]),
    "The Great Gatsby": ("F. Scott Fitzgerald", ["Ernest Hemingway", "John Steinbeck"]),
    "The Old Man and the Sea": ("Ernest Hemingway", ["John Steinbeck", "William Faulkner"]),
    "The Grapes of Wrath": ("John Steinbeck", ["William Faulkner", "Ernest Hemingway"]),
    "Les Misérables": ("Victor Hugo", ["Alexandre Dumas", "Émile Zola"]),
    "The Three Musketeers": ("Alexandre Dumas", ["Victor Hugo", "Jules Verne"]),
    "The Trial": ("Franz Kafka", ["Robert Musil", "Thomas Mann"]),
    "Madame Bovary": ("Gustave Flaubert", ["Honoré de Balzac", "Guy de Maupassant"]),
    "Jane Eyre": ("Charlotte Brontë", ["Emily Brontë", "Jane Austen"]),
    "Wuthering Heights": ("Emily Brontë", ["Charlotte Brontë", "Anne Brontë"]),
    "The Hobbit": ("J. R. R. Tolkien", ["C. S. Lewis", "Philip Pullman"]),
    "Great Expectations": ("Charles Dickens", ["William Thackeray", "Thomas Hardy"]),
    "Middlemarch": ("George Eliot", ["Thomas Hardy", "Elizabeth Gaskell"]),
    "The Canterbury Tales": ("Geoffrey Chaucer", ["John Gower", "William Langland"]),
    "Leviathan": ("Thomas Hobbes", ["John Locke", "Francis Bacon"]),
    "The Wealth of Nations": ("Adam Smith", ["David Ricardo", "David Hume"]),
    "Das Kapital": ("Karl Marx", ["Friedrich Engels", "Max Weber"]),
}
YES_NO = {
    "Is the Pacific the largest ocean on Earth?": True,
    "Is Mount Kilimanjaro in Kenya?": False,
    "Is the Great Wall of China visible from the Moon with the naked eye?": False,
    "Does water boil at 100 degrees Celsius at sea level?": True,
    "Is a tomato botanically a fruit?": True,
    "Is Venus the hottest planet in the Solar System?": True,
    "Is Mercury the hottest planet in the Solar System?": False,
    "Did Albert Einstein win a Nobel Prize in Physics?": True,
    "Did Thomas Edison invent the telephone?": False,
    "Are bats mammals?": True,
    "Are whales fish?": False,
    "Is gold denser than lead?": True,
    "Was Napoleon Bonaparte born on Corsica?": True,
    "Was William Shakespeare born in London?": False,
    "Is helium lighter than air?": True,
    "Is Russia the largest country by area?": True,
    "Did the Titanic sink on its maiden voyage?": True,
    "Is Pluto classified as a planet by the IAU today?": False,
    "Do penguins live in the wild in the Arctic?": False,
    "Is diamond a form of carbon?": True,
    "Is glass a good conductor of electricity?": False,
    "Is Spanish the official language of Brazil?": False,
    "Is Portuguese the official language of Brazil?": True,
    "Is Mount Everest the highest mountain above sea level?": True,
    "Is K2 higher than Mount Everest?": False,
    "Are spiders insects?": False,
    "Was George Washington the first President of the United States?": True,
    "Is the Dead Sea below sea level?": True,
    "Is the Amazon River in Africa?": False,
    "Does sound travel faster than light?": False,
    "Is Antarctica a continent?": True,
    "Did Marie Curie win two Nobel Prizes?": True,
    "Is the Mona Lisa in the British Museum?": False,
    "Is Canberra the capital of Australia?": True,
    "Is Sydney the capital of Australia?": False,
    "Was the Eiffel Tower built for the 1889 World's Fair?": True,
    "Is the Sun a star?": True,
    "Is the Moon larger than Earth?": False,
    "Can ostriches fly?": False,
    "Is Iceland a member of the European Union?": False,
}
SPOKEN = {1066: "ten sixty-six", 1969: "nineteen sixty-nine", 1989: "nineteen eighty-nine", 1945: "nineteen forty-five"}


def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def factor(n: int) -> tuple[int, int]:
    d = next(d for d in range(2, n) if n % d == 0)
    return d, n // d


@dataclass
class Question:
    family: str
    text: str
    rewordings: list[str]
    truth: str
    wrong: list[str]
    say: Callable[[str, random.Random, list[str]], str]  # (fact, rng, other candidates) -> an answer


def _pick(rng: random.Random, options: list[str], **kw: str) -> str:
    return rng.choice(options).format(**kw)


def prime_questions() -> list[Question]:
    # odd numbers without the factors 3 and 5 (the ones a glance does not settle), 91 = 7 × 13 first
    numbers = [n for n in range(91, 420, 2) if n % 3 and n % 5]
    out = []
    for n in numbers:
        truth = "yes" if is_prime(n) else "no"

        def say(fact: str, rng: random.Random, others: list[str], n: int = n) -> str:
            if fact == "yes":
                return _pick(
                    rng,
                    [
                        "Yes.",
                        "Yes, {n} is prime.",
                        "{n} is a prime number.",
                        "Yes — {n} has no divisors other than 1 and itself.",
                        "Let me check divisibility by 2, 3, 5, 7, 11, 13 and 17: none divides {n}, so yes, it is prime.",
                        "Yes, {n} is a prime number. It is odd, its digits do not add up to a multiple of 3, "
                        "and no prime up to its square root divides it.",
                        "That's right, it's prime.",
                    ],
                    n=str(n),
                )
            a, b = factor(n) if not is_prime(n) else (rng.choice([7, 11, 13, 17]), 0)
            return _pick(
                rng,
                [
                    "No.",
                    "No, {n} = {a} × {b}.",
                    "{n} is not prime.",
                    "No, it's divisible by {a}.",
                    "Not prime.",
                    "No. {n} is a composite number because it can be divided by {a} without a remainder, so it has "
                    "a divisor other than 1 and itself.",
                    "Let me think step by step. {n} is odd, so 2 is out. Trying small primes, {a} divides it. "
                    "So {n} is not a prime number.",
                    "It isn't prime.",
                ],
                n=str(n),
                a=str(a),
                b=str(b or "?"),
            )

        rewordings = [
            f"Is {n} a prime number?",
            f"Is the number {n} prime?",
            f"Would a mathematician call {n} prime?",
            f"Is {n} divisible only by 1 and itself?",
        ]
        out.append(Question("prime", f"Is {n} prime?", rewordings, truth, ["no" if truth == "yes" else "yes"], say))
    return out


def product_questions(rng: random.Random) -> list[Question]:
    out = []
    for _ in range(60):
        a, b = rng.randint(12, 98), rng.randint(12, 98)
        p = a * b
        wrong = sorted({str(p + d) for d in (10, -10, a, -b, 100)} - {str(p)})

        def say(fact: str, r: random.Random, others: list[str], a: int = a, b: int = b) -> str:
            v = int(fact)
            return _pick(
                r,
                [
                    "{v}.",
                    "{a} × {b} = {v}.",
                    "The product is {v}.",
                    "Let me compute: {a} × {b} = {a} × {b0}0 + {a} × {b1} = {v}.",
                    "It's {vc}.",
                    "{a} times {b} equals {v}. You can check it by multiplying in the other order.",
                ],
                v=str(v),
                vc=f"{v:,}",
                a=str(a),
                b=str(b),
                b0=str(b // 10),
                b1=str(b % 10),
            )

        rewordings = [f"What is {a} times {b}?", f"Multiply {a} by {b}.", f"What do you get from {b} × {a}?"]
        out.append(Question("product", f"What is {a} × {b}?", rewordings, str(p), wrong, say))
    return out


def capital_questions() -> list[Question]:
    out = []
    for country, (capital, wrong) in CAPITALS.items():

        def say(fact: str, rng: random.Random, others: list[str], c: str = country) -> str:
            alt = rng.choice([o for o in others if o != fact])
            return _pick(
                rng,
                [
                    "{v}.",
                    "The capital of {c} is {v}.",
                    "{v} is the capital of {c}.",
                    "It's {v}.",
                    "Sure! The capital of {c} is {v}, where the national government and parliament sit.",
                    "Not {alt}, as many people assume: the capital of {c} is {v}.",
                    "{low}",
                    "The capital city is {v}. It has been the seat of government for a long time and hosts most "
                    "embassies.",
                ],
                v=fact,
                c=c,
                alt=alt,
                low=fact.lower(),
            )

        rewordings = [
            f"Which city is the capital of {country}?",
            f"What city serves as {country}'s capital?",
            f"Name the capital of {country}.",
        ]
        out.append(Question("capital", f"What is the capital of {country}?", rewordings, capital, wrong, say))
    return out


def year_questions() -> list[Question]:
    out = []
    for event, year in EVENTS.items():
        wrong = [str(year + d) for d in (-1, 1, -2, 3, -10)]

        def say(fact: str, rng: random.Random, others: list[str], e: str = event) -> str:
            y = int(fact)
            spoken = SPOKEN.get(y, fact)
            return _pick(
                rng,
                [
                    "{y}.",
                    "In {y}.",
                    "It happened in {y}.",
                    "{E} took place in {y}.",
                    "That was in {spoken}.",
                    "If I remember correctly, {e} was in {y}, a year that is often cited in history books.",
                    "{E} happened in {y}. It was widely reported at the time and is still commemorated.",
                ],
                y=fact,
                e=e,
                E=e[0].upper() + e[1:],
                spoken=spoken,
            )

        rewordings = [f"When did {event} happen?", f"What year was {event}?", f"In which year did {event} occur?"]
        out.append(Question("year", f"In what year was {event}?", rewordings, str(year), wrong, say))
    return out


def author_questions() -> list[Question]:
    out = []
    for book, (author, wrong) in BOOKS.items():

        def say(fact: str, rng: random.Random, others: list[str], b: str = book) -> str:
            return _pick(
                rng,
                [
                    "{v}.",
                    "It was written by {v}.",
                    "{v} wrote {b}.",
                    "{b} is by {v}.",
                    "{b} was written by {v}, and it remains one of the most widely read works of its period.",
                    "The author is {v}.",
                ],
                v=fact,
                b=b,
            )

        rewordings = [f"Which writer wrote {book}?", f"Who is the author of {book}?", f"{book} was written by whom?"]
        out.append(Question("author", f"Who wrote {book}?", rewordings, author, wrong, say))
    return out


def yes_no_questions() -> list[Question]:
    out = []
    for q, truth in YES_NO.items():

        def say(fact: str, rng: random.Random, others: list[str]) -> str:
            if fact == "yes":
                options = [
                    "Yes.",
                    "Yes, that's right.",
                    "That is correct.",
                    "Yes, it is true, and it is a well-established fact that you will find in any reference work.",
                    "Correct.",
                    "Yes — this is true.",
                ]
            else:
                options = [
                    "No.",
                    "No, that's not the case.",
                    "That's a common misconception — no.",
                    "Actually, no.",
                    "It isn't true, although many people believe it and it is often repeated in popular books.",
                    "No, this is false.",
                ]
            return rng.choice(options)

        rewordings = [q, "Is it true that the following holds? " + q, "Quick check: " + q.lower()]
        out.append(Question("yesno", q, rewordings, "yes" if truth else "no", ["no" if truth else "yes"], say))
    return out


def profile(rng: random.Random) -> tuple[str, float, float]:
    """(name, P(right), P(the dominant wrong candidate | wrong)) of the scripted model on one question."""
    kind = rng.choices(["knows", "unsure", "confidently_wrong"], weights=[0.45, 0.4, 0.15])[0]
    if kind == "knows":
        return kind, rng.uniform(0.8, 1.0), 0.6
    if kind == "unsure":
        return kind, rng.uniform(0.3, 0.7), 0.6
    return kind, rng.uniform(0.0, 0.15), 0.9


def draw(rng: random.Random, q: Question, p_right: float, p_dominant: float) -> str:
    if rng.random() < p_right:
        return q.truth
    if len(q.wrong) == 1 or rng.random() < p_dominant:
        return q.wrong[0]
    return rng.choice(q.wrong[1:])


# Only in the sealed split, half of all texts: wrappers the scorer was never developed on, so the sealed
# figures also say how much of the dev figures is owed to the dev phrasings.
RESTYLE = [
    "I'm fairly sure about this one. {t}",
    "{t} Hope that helps!",
    "Answer: {t}",
    "**{t}**",
    "Short answer: {t}\n\nLet me know if you want more detail.",
    "Good question! {t}",
    "{t} (I could be wrong, so double-check.)",
    "To be honest, {lt}",
]


def restyle(text: str, rng: random.Random, on: bool) -> str:
    if not on or rng.random() < 0.5:
        return text
    return rng.choice(RESTYLE).format(t=text, lt=text[0].lower() + text[1:])


def item(rng: random.Random, q: Question, i: int, unseen: bool = False) -> dict:
    kind, p_right, p_dom = profile(rng)
    candidates = [q.truth, *q.wrong]
    fact = draw(rng, q, p_right, p_dom)
    sample_facts = [draw(rng, q, p_right, p_dom) for _ in range(N_MAX)]
    samples = [restyle(q.say(f, rng, candidates), rng, unseen) for f in sample_facts]
    para_q = [rng.choice(q.rewordings) for _ in range(N_MAX)]
    para_facts = [draw(rng, q, p_right, p_dom) for _ in range(N_MAX)]
    para_a = [restyle(q.say(f, rng, candidates), rng, unseen) for f in para_facts]
    return {
        "id": f"{q.family}-{i:03d}",
        "family": q.family,
        "question": q.text,
        "answer": restyle(q.say(fact, rng, candidates), rng, unseen),
        "wrong": fact != q.truth,
        "fact": fact,
        "truth": q.truth,
        "profile": kind,
        "samples": samples,
        "sample_facts": sample_facts,  # what each sample says, for the oracle ceiling of the benchmark
        "paraphrases": para_q,
        "paraphrase_answers": para_a,
        "paraphrase_facts": para_facts,
    }


def sealed(question: str) -> bool:
    return int(hashlib.sha256(question.encode()).hexdigest()[:8], 16) % 10 < 3


def main() -> None:
    rng = random.Random(20)
    questions = [
        *prime_questions(),
        *product_questions(rng),
        *capital_questions(),
        *year_questions(),
        *author_questions(),
        *yes_no_questions(),
    ]
    splits: dict[str, list[dict]] = {"dev": [], "sealed": []}
    for i, q in enumerate(questions):
        for rep in range(2):  # two scripted "models" per question, each with its own profile
            split = "sealed" if sealed(q.text) else "dev"
            splits[split].append(item(rng, q, 2 * i + rep, unseen=split == "sealed"))
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with open(OUT / f"{name}.jsonl", "w") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        wrong = sum(r["wrong"] for r in rows)
        print(f"{name}: {len(rows)} answers, {wrong} wrong")


if __name__ == "__main__":
    main()
