"""The demo forum that `manage.py load_demo` creates: people, boards and conversations.

Everyone and every organisation-specific detail here is invented for the demo; the programs
(CTEIG, K12 Strong Workforce, Perkins V, NCCER, OSHA 10) are real, and the posts are written the
way members would discuss them, not as statements of current policy.
"""

from __future__ import annotations

DEMO_PASSWORD = "carocp-demo"

GROUPS = ("Board members", "Moderators")

# username, display name, organisation, job title, member type, region, bio, groups, extra
MEMBERS: list[dict] = [
    {
        "username": "admin",
        "display_name": "Forum Staff",
        "organisation": "CAROCP",
        "job_title": "Association staff",
        "member_type": "other",
        "region": "statewide",
        "bio": "CAROCP staff account. Questions about the forum or your membership: ask here.",
        "is_staff": True,
        "is_superuser": True,
        "days_joined": 420,
    },
    {
        "username": "mod",
        "display_name": "Priya Raman",
        "organisation": "CAROCP",
        "job_title": "Volunteer community moderator",
        "member_type": "other",
        "region": "bay-area",
        "groups": ["Moderators"],
        "moderates_all": True,
        "bio": "Retired ROP director. I keep the boards tidy and help people find the right "
        "thread.",
        "days_joined": 400,
    },
    {
        "username": "maria",
        "display_name": "Maria Alvarez",
        "organisation": "Elk Grove Unified School District",
        "job_title": "Health Science & Medical Technology teacher",
        "member_type": "teacher",
        "region": "north",
        "bio": "Twelve years teaching patient care and sports medicine. HOSA advisor. Always "
        "looking for clinical placement partners.",
        "days_joined": 300,
    },
    {
        "username": "james",
        "display_name": "James Whitfield",
        "organisation": "Long Beach Unified School District",
        "job_title": "Work-Based Learning Coordinator",
        "member_type": "admin",
        "region": "los-angeles",
        "bio": "I place about 400 students a year in internships across the port, aerospace and "
        "health care. Ask me about WBL agreements and insurance.",
        "days_joined": 280,
    },
    {
        "username": "dana",
        "display_name": "Dana Okafor",
        "organisation": "Riverside County Office of Education",
        "job_title": "Director, College and Career Readiness",
        "member_type": "admin",
        "region": "inland-empire",
        "groups": ["Board members"],
        "bio": "CAROCP board secretary. Previously a building trades teacher for nine years.",
        "days_joined": 390,
    },
    {
        "username": "patricia",
        "display_name": "Patricia Wong",
        "organisation": "San Francisco Unified School District",
        "job_title": "Executive Director, Career Pathways",
        "member_type": "admin",
        "region": "bay-area",
        "groups": ["Board members"],
        "bio": "CAROCP board president.",
        "days_joined": 410,
    },
    {
        "username": "miguel",
        "display_name": "Miguel Santos",
        "organisation": "Santa Ana Unified School District",
        "job_title": "Automotive Technology instructor",
        "member_type": "teacher",
        "region": "orange",
        "groups": ["Board members"],
        "bio": "ASE Master Technician, 15 years in dealerships before teaching. CAROCP board "
        "member at large.",
        "days_joined": 350,
    },
    {
        "username": "lena",
        "display_name": "Lena Park",
        "organisation": "Bayview Regional Medical Center",
        "job_title": "Workforce Development Manager",
        "member_type": "industry",
        "region": "bay-area",
        "bio": "I run our hospital's high school pipeline programs: job shadows, summer "
        "internships and our CNA pre-apprenticeship.",
        "days_joined": 200,
    },
    {
        "username": "kevin",
        "display_name": "Kevin O'Brien",
        "organisation": "North State Electrical Training Center",
        "job_title": "Apprenticeship Coordinator",
        "member_type": "industry",
        "region": "north",
        "bio": "Inside wireman apprenticeship. We take pre-apprentices from four high school "
        "construction pathways.",
        "days_joined": 150,
    },
    {
        "username": "tomas",
        "display_name": "Tomás Herrera",
        "organisation": "Fresno Unified School District",
        "job_title": "College and Career Counselor",
        "member_type": "counselor",
        "region": "central",
        "bio": "Helping students connect pathways to dual enrollment and apprenticeships.",
        "days_joined": 120,
    },
    {
        "username": "sofia",
        "display_name": "Sofia Ramirez",
        "organisation": "Tulare Joint Union High School District",
        "job_title": "Agriculture teacher and FFA advisor",
        "member_type": "teacher",
        "region": "central",
        "bio": "Ag mechanics and plant science. Our SAE program is basically work-based "
        "learning with livestock.",
        "days_joined": 90,
    },
    {
        "username": "grace",
        "display_name": "Grace Nakamura",
        "organisation": "California State Assembly",
        "job_title": "Legislative aide (education and workforce)",
        "member_type": "policy",
        "region": "statewide",
        "bio": "I staff education and workforce bills. Here to listen; nothing I post is an "
        "official position.",
        "days_joined": 60,
    },
    {
        "username": "robert",
        "display_name": "Robert Chen",
        "organisation": "California Department of Education",
        "job_title": "Education programs consultant, CTE",
        "member_type": "agency",
        "region": "statewide",
        "bio": "I answer grant and reporting questions when I can. For official guidance "
        "always check the program pages.",
        "days_joined": 240,
    },
    {
        "username": "hannah",
        "display_name": "Hannah Brooks",
        "organisation": "South Central Coast Regional Consortium",
        "job_title": "K12 Pathway Coordinator",
        "member_type": "admin",
        "region": "south-central",
        "bio": "K12 Strong Workforce regional work: pathway mapping, employer engagement, "
        "and the occasional webinar.",
        "days_joined": 180,
    },
    {
        "username": "aaliyah",
        "display_name": "Aaliyah Johnson",
        "organisation": "Lincoln High School, San Diego Unified",
        "job_title": "Senior, construction pathway; SkillsUSA chapter president",
        "member_type": "student",
        "region": "san-diego",
        "bio": "Class of 2027. Carpentry and a bit of welding. Want to be a project manager.",
        "days_joined": 45,
    },
]

# slug, name, description, visibility, start rule, reply rule, groups (visible and posting)
BOARDS: list[dict] = [
    {
        "slug": "announcements",
        "name": "Announcements",
        "position": 1,
        "description": "News from CAROCP staff: events, deadlines, forum changes.",
        "visibility": "anyone",
        "start_rule": "staff",
        "reply_rule": "members",
    },
    {
        "slug": "networking",
        "name": "Networking",
        "position": 2,
        "description": "Introductions, advisory committees, finding partners and placements.",
        "visibility": "anyone",
        "start_rule": "members",
        "reply_rule": "members",
    },
    {
        "slug": "advocacy",
        "name": "Advocacy",
        "position": 3,
        "description": "State budget, legislation and making the case for CTE.",
        "visibility": "anyone",
        "start_rule": "members",
        "reply_rule": "members",
    },
    {
        "slug": "professional-development",
        "name": "Professional Development",
        "position": 4,
        "description": "Webinars, certifications, conferences and teaching practice.",
        "visibility": "anyone",
        "start_rule": "members",
        "reply_rule": "members",
    },
    {
        "slug": "board-room",
        "name": "Board Room",
        "position": 5,
        "description": "Private to the CAROCP board of directors.",
        "visibility": "groups",
        "start_rule": "groups",
        "reply_rule": "groups",
        "groups": ["Board members"],
    },
]

# Each thread: board slug, author, title, days ago, body, and replies as (author, hours after
# the first post, body). Threads are keyed by (board, title), which makes loading idempotent.
THREADS: list[dict] = [
    {
        "board": "announcements",
        "author": "admin",
        "days_ago": 34,
        "title": "Welcome to the CAROCP Forum: how the boards work",
        "body": """Welcome! This forum is for everyone who builds Career Technical Education in
California: teachers, program leaders, counselors, industry partners, agency staff,
policymakers and students.

**Where things go**

- **Networking**: introductions, advisory committees, finding partners and placements
- **Advocacy**: the state budget, bills, and telling the CTE story
- **Professional Development**: webinars, certifications, conferences
- **Announcements**: news from staff (replies welcome)

New accounts are approved by staff, usually within a day. Please use your real name and
organisation, and read the content usage policy linked at the bottom of every page.

Questions? Reply here or mention @mod.""",
        "replies": [
            (
                "maria",
                5,
                "Thanks for setting this up! So much easier than the old listserv "
                "digest. Is there a way to follow just one board?",
            ),
            (
                "mod",
                7,
                "> Is there a way to follow just one board?\n\nYes: open the board and "
                "use **Watch**. You can also set email or in-app notifications per kind "
                "in your notification settings, @maria.",
            ),
        ],
    },
    {
        "board": "networking",
        "author": "maria",
        "days_ago": 26,
        "title": "Advisory committee meetings that industry partners actually attend",
        "body": """Our spring advisory meeting for the Patient Care pathway had **three**
industry partners show up out of eleven invited. I know we need the meeting for CTEIG and
Perkins, but I want it to be worth their time too.

What has worked for you? Things I'm considering:

1. Moving it from 3:30 pm to a 7:30 am breakfast
2. Sending the agenda two weeks ahead with *one* specific question for them
3. Having students present their capstone projects for the first 20 minutes
4. Splitting into a short full meeting plus site-specific follow-ups

Would love to hear especially from industry folks about what makes you say yes.""",
        "replies": [
            (
                "lena",
                3,
                """From the hospital side: give us a decision to make, not a report to
listen to. When a school asks "should the curriculum add phlebotomy or EKG next year, and
would you hire for either?" I bring our lab manager. When it's a slide deck of enrollment
numbers, I send my regrets.

Breakfast works for clinical managers; 3:30 collides with shift change.""",
            ),
            (
                "james",
                6,
                """+1 to student presentations. We moved ours to the students' site
and let them run the tour. Attendance went from 5 to 14.

Also: we send minutes within 48 hours with a "here is what we changed because of you"
section. Partners come back when they see their advice used.""",
            ),
            (
                "miguel",
                20,
                """> give us a decision to make, not a report to listen to

This. For automotive we ask our dealer partners to rank the NATEF/ASE tasks we should
emphasize. Takes 15 minutes and they argue about it happily for 45.""",
            ),
            (
                "maria",
                26,
                "Thank you all. Trying the breakfast plus a single decision item. "
                "@lena I may message you about the phlebotomy vs. EKG question, "
                "that is literally our debate right now.",
            ),
        ],
    },
    {
        "board": "networking",
        "author": "tomas",
        "days_ago": 21,
        "title": "Introduce yourself: who are you and what do you work on?",
        "body": """Let's make this the place to say hello. Name, where you work, and one
thing you'd like help with this year.

I'm Tomás, a college and career counselor in Fresno. This year I want to get more of our
pathway students into dual enrollment courses that actually articulate to a certificate.""",
        "replies": [
            (
                "sofia",
                2,
                "Sofia, ag teacher and FFA advisor in Tulare. Help wanted: employers "
                "for ag mechanics internships who can take 16-year-olds.",
            ),
            (
                "kevin",
                4,
                "Kevin, apprenticeship coordinator for an electrical training center "
                "up north. Happy to talk pre-apprenticeship and direct entry "
                "agreements with any construction pathway.",
            ),
            (
                "aaliyah",
                9,
                "Hi! Aaliyah, senior in the construction pathway in San Diego and "
                "SkillsUSA chapter president. I'm looking for advice on getting into "
                "a construction management program. @kevin do you take students "
                "from outside your area?",
            ),
            (
                "kevin",
                11,
                "@aaliyah our program is regional, but the San Diego JATC works the "
                "same way. Ask your teacher about the MC3 pre-apprenticeship "
                "curriculum; finishing it counts in your favour when you apply.",
            ),
        ],
    },
    {
        "board": "advocacy",
        "author": "dana",
        "days_ago": 18,
        "title": "CTEIG and K12 Strong Workforce in next year's budget: what are you hearing?",
        "body": """With the Governor's budget proposal out and the May Revision ahead, let's
collect what each region is hearing about the two state programs most of our pathways rely on:

- **CTEIG** (Career Technical Education Incentive Grant, administered by CDE), with its
  local match requirement
- **K12 Strong Workforce Program** (administered through the community college regional
  consortia)

Questions for the group:

1. Has your district budgeted the CTEIG match for next year assuming flat funding?
2. For K12 SWP, are your consortia signalling any change in how applications are scored?
3. Who has data on what happens to a pathway when a grant year is late?

Please keep it to what you actually know or were told, and say where it came from.""",
        "replies": [
            (
                "robert",
                4,
                """Speaking only about process, not the budget: the CTEIG
application and reporting requirements are on the CDE program page, and any change to
match rules would come with updated guidance. Please don't plan on rumours; check the
page and the official FAQ when the budget is signed.""",
            ),
            (
                "hannah",
                8,
                """South Central Coast: our consortium has told K12 SWP applicants to
expect the same regional priority sectors and the same rubric weights as last round. The
bigger change is that they want employer letters tied to *specific* pathway outcomes, not
generic support letters.""",
            ),
            (
                "grace",
                30,
                """From the Capitol side (not an official position): what moves
members is local, concrete evidence. A one-page story from your district with numbers
(students completing, certifications earned, where they went) does more than a statewide
sign-on letter. If you send one, send it to your own legislator's district office too.""",
            ),
            (
                "patricia",
                31,
                "@grace that's helpful. Dana, should CAROCP collect those "
                "one-pagers in a shared template? I'd be glad to draft it.",
            ),
            (
                "dana",
                33,
                "Yes please. I'll open a thread in the Board Room so we can agree "
                "on the format before we ask members.",
            ),
        ],
    },
    {
        "board": "professional-development",
        "author": "miguel",
        "days_ago": 14,
        "title": "NCCER Core and OSHA 10 in a construction pathway: worth the cost?",
        "body": """We're deciding whether to build **NCCER Core** and **OSHA 10** into our
construction pathway's concentrator course. Costs we've found so far:

- Instructor certification for NCCER (one of us would need to go through ITC training)
- Per-student module testing fees and the registry
- OSHA 10 cards through an authorized trainer

Our employer partners say OSHA 10 is nice to have and NCCER gives advanced placement in
some apprenticeships. Does anyone track whether students with these credentials are hired
or placed faster? I'd like numbers before asking the board for the money.""",
        "replies": [
            (
                "kevin",
                5,
                """For our program: NCCER Core completion doesn't guarantee
acceptance, but it's worth points on our ranking and the applicants who have it tend to
survive the first year. OSHA 10 we teach ourselves in week one anyway, so for us it's a
tie-breaker at most.""",
            ),
            (
                "aaliyah",
                9,
                "Student view: I got my OSHA 10 card junior year and it was the "
                "first thing the summer job interviewer asked about. NCCER Core "
                "I'm finishing now.",
            ),
            (
                "james",
                12,
                """We track it. Of last year's construction completers, students
holding NCCER Core were placed in paid WBL at a noticeably higher rate, but they were also
our most engaged students, so I'd not claim causation. Happy to share our spreadsheet
layout if you want to compare.""",
            ),
            ("miguel", 28, "@james yes please, that would help a lot. I'll post what we decide."),
        ],
    },
    {
        "board": "professional-development",
        "author": "hannah",
        "days_ago": 9,
        "title": "Webinar follow-up: work-based learning for students under 18",
        "body": """Thanks to the 140 people who joined Tuesday's webinar! As promised, here
are the follow-ups.

**What we covered**

- The work-based learning continuum: career awareness, exploration, preparation, training
- Paid vs. unpaid placements, and when a placement becomes employment
- Work permits for minors and who signs what
- Insurance and liability: district coverage, employer coverage, and the agreements between
  them

**Questions we didn't get to**

1. Can a student under 16 do a job shadow on a construction site? (Short answer: a shadow
   on an active site usually runs into hazardous-occupation limits; check with your
   district's counsel and the employer's safety officer.)
2. Do virtual internships need a training agreement? (Our recommendation: yes, same
   template, with a section on supervision and hours.)

> "The agreement is not paperwork, it's the plan." (one of our panelists)

The recording and slides are on the consortium's site; reply here with anything we missed.""",
        "replies": [
            (
                "sofia",
                3,
                "Thank you! Question on #2: for SAE projects that happen on the "
                "family farm, do you still recommend a training agreement? Our "
                "district has gone back and forth.",
            ),
            (
                "hannah",
                6,
                "@sofia I'd still use one. It's short, and it documents supervision "
                "and the learning goals, which you need for the SAE record anyway.",
            ),
            (
                "james",
                24,
                "We adopted a one-page agreement for virtual internships last year. "
                "The supervision section caught two placements where nobody was "
                "actually checking in with the student.",
            ),
            (
                "maria",
                50,
                "The continuum slide was gold for our site council. Could we get "
                "it as a PDF to print?",
            ),
        ],
    },
    {
        "board": "networking",
        "author": "james",
        "days_ago": 5,
        "title": "Looking for health care partners for summer internships (LA and OC)",
        "body": """We have 35 rising seniors in our health pathways who have finished their
first-aid/CPR and HIPAA training and want a summer internship. We can cover:

- Workers' comp through the district for unpaid placements
- A WBL coordinator checking in weekly
- Transportation stipends

Looking for clinics, dental offices, physical therapy practices, or hospital departments in
Los Angeles and Orange County. Even two or three students per site helps.""",
        "replies": [
            (
                "lena",
                2,
                "We're Bay Area only, but I can introduce you to our counterpart at a "
                "Long Beach health system. Sending you a message.",
            ),
            (
                "miguel",
                30,
                "A couple of our automotive advisory members run fleet "
                "maintenance for a medical transport company in Santa Ana. Not "
                "clinical, but they hire EMT students. Want an intro?",
            ),
        ],
    },
    {
        "board": "board-room",
        "author": "dana",
        "days_ago": 16,
        "title": "Draft agenda: January board meeting",
        "body": """Draft for our January meeting. Please comment by Friday.

1. Approve minutes of the November meeting
2. Treasurer's report and the conference budget
3. Advocacy: one-page district story template (see the Advocacy thread)
4. Membership: approval process on the new forum; renewal reminders
5. Spring conference: keynote shortlist, call for presenters timeline
6. Closed session: executive director contract renewal""",
        "replies": [
            (
                "patricia",
                4,
                "Looks good. Can we move item 5 before item 4? The conference "
                "venue deposit is due before our February meeting.",
            ),
            (
                "miguel",
                9,
                "Fine with me. For item 3 I can bring two examples from Santa Ana "
                "to show what a one-pager looks like.",
            ),
            (
                "dana",
                22,
                "Updated: conference is now item 4, membership item 5. Thanks "
                "@miguel, please bring them.",
            ),
        ],
    },
]
