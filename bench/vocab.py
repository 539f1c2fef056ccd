"""Seeded vocabulary for the bench dataset: CTE sentences, titles, names, organisations."""

from __future__ import annotations

FIRST_NAMES = [
    "Maria", "James", "Dana", "Luis", "Aisha", "Kevin", "Priya", "Tom", "Rosa", "Daniel",
    "Mei", "Carlos", "Sarah", "Andre", "Fatima", "Brian", "Elena", "Marcus", "Linh", "Jorge",
    "Hannah", "Omar", "Grace", "Victor", "Keiko", "Tyrone", "Nadia", "Sam", "Ana", "Peter",
    "Lupe", "Derek", "Yesenia", "Ravi", "Monica", "Hector", "Julia", "Kenji", "Teresa", "Miguel",
]
LAST_NAMES = [
    "Gonzalez", "Nguyen", "Smith", "Patel", "Garcia", "Kim", "Johnson", "Lopez", "Chen", "Brown",
    "Martinez", "Williams", "Tran", "Hernandez", "Davis", "Singh", "Rodriguez", "Lee", "Wilson",
    "Ramirez", "Park", "Flores", "Anderson", "Torres", "Wong", "Rivera", "Thomas", "Cruz",
]
ORGANISATIONS = [
    "Fresno Unified School District", "Long Beach City College", "San Diego County Office of "
    "Education", "Sacramento City Unified", "Los Angeles Trade-Technical College",
    "Oakland Unified School District", "Riverside County Office of Education",
    "Kern High School District", "Santa Ana College", "Butte College", "Central Coast ROP",
    "Tri-Cities ROP", "California Department of Education", "Foothill-De Anza CCD",
    "Bakersfield College", "Pasadena City College", "San Bernardino Valley College",
    "Modesto Junior College", "Humboldt County Office of Education", "Kaiser Permanente",
    "PG&E Workforce Development", "Chaffey College", "Shasta College", "Hartnell College",
    "Imperial Valley College", "Eden Area ROP", "Baldy View ROP", "Southern California Edison",
]
JOB_TITLES = [
    "CTE Teacher", "CTE Coordinator", "Program Director", "Dean of Workforce Development",
    "Career Counselor", "Work-Based Learning Coordinator", "Industry Liaison",
    "Assistant Superintendent", "Pathway Lead", "Grant Manager", "Policy Analyst",
]

BOARDS = [
    ("Announcements", "announcements", "News from the association and the state."),
    ("Pathways and curriculum", "pathways", "Course sequences, standards and articulation."),
    ("Work-based learning", "work-based-learning", "Internships, job shadows, partners."),
    ("Funding and grants", "funding", "Perkins V, CTEIG, K12 SWP and how to report on them."),
    ("Industry partnerships", "industry", "Advisory committees and employer engagement."),
    ("Student organisations", "ctsos", "FFA, SkillsUSA, HOSA, FBLA, DECA and friends."),
    ("Off topic", "off-topic", "Everything else, kindly."),
    ("Board members", "board-room", "Private: the association's board."),
]

TITLE_TOPICS = [
    "Perkins V comprehensive local needs assessment", "CTEIG match requirements",
    "advisory committee attendance", "articulation agreements with the community college",
    "dual enrollment in welding", "health science pathway sequencing", "industry certifications",
    "work-based learning hours", "CALPADS CTE reporting", "K12 Strong Workforce Program round",
    "ag mechanics lab safety", "culinary arts equipment budget", "ICT and cybersecurity pathway",
    "building trades pre-apprenticeship", "student leadership conference", "CTE teacher credential",
    "designated subjects credential timeline", "A-G approval for CTE courses",
    "manufacturing partnership with local employers", "early childhood education pathway",
    "engineering capstone projects", "patient care internships", "summer externships for teachers",
    "equity gaps in pathway completion", "regional consortium meeting notes",
]
TITLE_FORMS = [
    "Question about {t}", "How are you handling {t}?", "Resources for {t}",
    "{T}: what worked for us",
    "Help needed: {t}", "Update on {t}", "Anyone else struggling with {t}?",
    "Sharing our approach to {t}", "{T} in rural districts", "Timeline for {t} this year",
]

SENTENCES = [
    "We rebuilt our advisory committee this year and attendance finally went up.",
    "The CLNA process took us three months, mostly because the data came in late.",
    "Our welding pathway now articulates with the community college for six units.",
    "Has anyone found a good way to track work-based learning hours across sites?",
    "Perkins funds cannot supplant what the district already pays for, so document everything.",
    "We started asking employers to co-teach one unit per semester and students loved it.",
    "The CTEIG match is one to one in the first year, which surprised our business office.",
    "Our health science students complete a hundred hours of clinical rotation before graduating.",
    "Industry certifications count for the College and Career Indicator if they are on the list.",
    "I would talk to your regional consortium coordinator before the application window opens.",
    "Dual enrollment scheduling is the hardest part; the bell schedules rarely line up.",
    "We moved the capstone presentations to the evening so families and partners could come.",
    "The new lab equipment arrived, but we still need the electrical upgrade to run it.",
    "Students in the ag mechanics course built the greenhouse benches for the horticulture class.",
    "Our completion rates improved once we sequenced the intro course in ninth grade.",
    "Teacher externships over the summer gave our staff a much better picture of the jobs.",
    "CALPADS reporting for CTE course completion still trips us up every spring.",
    "A-G approval for the engineering courses opened the pathway to many more students.",
    "We pair every new CTE teacher with a mentor for their first two years.",
    "The culinary program runs a student café that covers part of its own food costs.",
    "Our counselors now present every pathway to eighth graders before course selection.",
    "Employers told us they care more about reliability and teamwork than specific software.",
    "We budgeted for certification exam fees so cost is never the reason a student skips one.",
    "Equity gaps in pathway enrollment showed up clearly once we disaggregated the data.",
    "The K12 SWP round had a shorter turnaround than last year, so start early.",
    "Our building trades students earned their pre-apprenticeship certificate this spring.",
    "I can share the rubric we use for work-based learning reflections if it helps.",
    "Rural districts can pool resources through the ROP to offer more pathways.",
    "We invited the local hospital to review the medical assisting course outline.",
    "The designated subjects credential timeline depends on verified industry experience.",
    "Student organisations like SkillsUSA give students a reason to practice soft skills.",
    "We track graduates for two years after completion using a short text survey.",
    "Safety training has to be documented before any student touches the equipment.",
    "The cybersecurity pathway needed a separate network so students could practice safely.",
    "Our board approved a policy on paid internships for students over sixteen.",
    "Early childhood education students complete observation hours at the district preschool.",
    "The regional meeting notes are posted, including the slides on labour market data.",
    "I agree that partnerships work best when the employer gets something concrete back.",
    "Our first cohort of dual-enrolled students finished with both a diploma and a certificate.",
    "The biggest win this year was a shared calendar for all work-based learning events.",
]
CLOSERS = [
    "Thanks in advance for any pointers.", "Happy to share more if anyone is interested.",
    "Curious what others have tried.", "Let me know if I missed something.",
    "This forum has been a great help.", "We will report back after the next meeting.",
]
LINK_SENTENCES = [
    "The state guidance is at https://www.cde.ca.gov/ci/ct/pk/ and worth a careful read.",
    "See [the CTE model curriculum standards](https://www.cde.ca.gov/ci/ct/sf/ctemcstandards.asp).",
    "Labour market data for each region is on https://www.labormarketinfo.edd.ca.gov/ if needed.",
    "The Strong Workforce dashboards help: https://www.calpassplus.org/LaunchBoard/",
    "We based our rubric on [ACTE's quality framework](https://www.acteonline.org/).",
    "Perkins V details: https://cte.ed.gov/legislation/perkins-v",
]
LIST_BLOCKS = [
    "What we ask partners for:\n\n- one guest lesson a semester\n- two job shadow slots\n"
    "- feedback on the capstone rubric",
    "Our checklist before an internship starts:\n\n1. signed agreement\n2. safety training\n"
    "3. emergency contacts\n4. supervisor orientation",
    "Budget lines we use:\n\n- equipment\n- certification fees\n- teacher externship stipends",
]
