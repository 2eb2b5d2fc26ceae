// The words the synthetic medical corpus is composed from: departments with their diagnoses, symptoms, drugs and tests (Chinese and English).

/** One diagnosis with what a record about it mentions. */
export interface DiagnosisWords {
  diagnosis: string;
  symptoms: readonly string[];
  drugs: readonly string[];
  tests: readonly string[];
}

export interface DepartmentWords {
  department: string;
  diagnoses: readonly DiagnosisWords[];
}

export const chineseDepartments: readonly DepartmentWords[] = [
  {
    department: "心内科",
    diagnoses: [
      { diagnosis: "高血压病", symptoms: ["头晕", "头痛", "心悸", "颈部僵硬"], drugs: ["氨氯地平", "缬沙坦", "美托洛尔", "氢氯噻嗪"], tests: ["动态血压监测", "心电图", "肾功能"] },
      { diagnosis: "冠状动脉粥样硬化性心脏病", symptoms: ["胸闷", "胸痛", "活动后气短", "心前区压榨感"], drugs: ["阿司匹林", "阿托伐他汀", "硝酸甘油", "氯吡格雷"], tests: ["冠状动脉造影", "心肌酶谱", "心脏彩超"] },
      { diagnosis: "心房颤动", symptoms: ["心悸", "乏力", "胸闷", "头晕"], drugs: ["华法林", "利伐沙班", "胺碘酮", "地高辛"], tests: ["心电图", "凝血功能", "甲状腺功能"] },
      { diagnosis: "慢性心力衰竭", symptoms: ["双下肢水肿", "夜间阵发性呼吸困难", "乏力", "尿量减少"], drugs: ["呋塞米", "螺内酯", "沙库巴曲缬沙坦", "美托洛尔"], tests: ["脑钠肽", "心脏彩超", "胸部X线"] },
    ],
  },
  {
    department: "呼吸内科",
    diagnoses: [
      { diagnosis: "社区获得性肺炎", symptoms: ["发热", "咳嗽", "咳黄痰", "胸痛"], drugs: ["头孢曲松", "阿奇霉素", "莫西沙星", "氨溴索"], tests: ["胸部CT", "血常规", "C反应蛋白", "痰培养"] },
      { diagnosis: "慢性阻塞性肺疾病", symptoms: ["气短", "慢性咳嗽", "咳痰", "喘息"], drugs: ["噻托溴铵", "沙美特罗替卡松", "沙丁胺醇", "茶碱"], tests: ["肺功能", "血气分析", "胸部CT"] },
      { diagnosis: "支气管哮喘", symptoms: ["喘息", "夜间咳嗽", "胸闷", "呼吸困难"], drugs: ["布地奈德福莫特罗", "孟鲁司特", "沙丁胺醇", "泼尼松"], tests: ["肺功能", "呼出气一氧化氮", "过敏原检测"] },
    ],
  },
  {
    department: "内分泌科",
    diagnoses: [
      { diagnosis: "2型糖尿病", symptoms: ["多饮", "多尿", "体重下降", "视物模糊"], drugs: ["二甲双胍", "格列美脲", "达格列净", "门冬胰岛素"], tests: ["空腹血糖", "糖化血红蛋白", "尿微量白蛋白"] },
      { diagnosis: "甲状腺功能亢进症", symptoms: ["心悸", "多汗", "手抖", "体重下降"], drugs: ["甲巯咪唑", "丙硫氧嘧啶", "普萘洛尔"], tests: ["甲状腺功能", "甲状腺彩超", "促甲状腺激素受体抗体"] },
      { diagnosis: "骨质疏松症", symptoms: ["腰背痛", "身高变矮", "轻微外伤后骨折"], drugs: ["阿仑膦酸钠", "骨化三醇", "碳酸钙D3"], tests: ["骨密度", "血钙", "维生素D"] },
    ],
  },
  {
    department: "消化内科",
    diagnoses: [
      { diagnosis: "慢性胃炎", symptoms: ["上腹痛", "腹胀", "反酸", "嗳气"], drugs: ["奥美拉唑", "铝碳酸镁", "莫沙必利"], tests: ["胃镜", "幽门螺杆菌呼气试验"] },
      { diagnosis: "消化性溃疡", symptoms: ["饥饿痛", "上腹痛", "黑便", "反酸"], drugs: ["雷贝拉唑", "阿莫西林", "克拉霉素", "枸橼酸铋钾"], tests: ["胃镜", "大便潜血", "血常规"] },
      { diagnosis: "急性胰腺炎", symptoms: ["上腹剧痛", "恶心", "呕吐", "发热"], drugs: ["生长抑素", "乌司他丁", "奥美拉唑"], tests: ["血淀粉酶", "脂肪酶", "腹部CT"] },
    ],
  },
  {
    department: "神经内科",
    diagnoses: [
      { diagnosis: "脑梗死", symptoms: ["一侧肢体无力", "言语不清", "口角歪斜", "头晕"], drugs: ["阿司匹林", "阿托伐他汀", "丁苯酞", "依达拉奉"], tests: ["头颅磁共振", "颈动脉彩超", "血脂"] },
      { diagnosis: "偏头痛", symptoms: ["单侧搏动性头痛", "畏光", "恶心", "呕吐"], drugs: ["布洛芬", "佐米曲普坦", "氟桂利嗪"], tests: ["头颅CT", "脑电图"] },
      { diagnosis: "帕金森病", symptoms: ["静止性震颤", "动作迟缓", "肌强直", "步态异常"], drugs: ["多巴丝肼", "普拉克索", "司来吉兰"], tests: ["头颅磁共振", "嗅觉测试"] },
    ],
  },
  {
    department: "肾内科",
    diagnoses: [
      { diagnosis: "慢性肾脏病", symptoms: ["乏力", "夜尿增多", "水肿", "食欲减退"], drugs: ["缬沙坦", "碳酸氢钠", "促红细胞生成素", "骨化三醇"], tests: ["肾功能", "尿常规", "肾脏彩超"] },
      { diagnosis: "IgA肾病", symptoms: ["肉眼血尿", "泡沫尿", "腰酸"], drugs: ["厄贝沙坦", "甲泼尼龙", "吗替麦考酚酯"], tests: ["肾穿刺活检", "尿蛋白定量", "尿红细胞形态"] },
    ],
  },
  {
    department: "骨科",
    diagnoses: [
      { diagnosis: "腰椎间盘突出症", symptoms: ["腰痛", "下肢放射痛", "下肢麻木"], drugs: ["塞来昔布", "甲钴胺", "乙哌立松"], tests: ["腰椎磁共振", "腰椎X线"] },
      { diagnosis: "膝关节骨性关节炎", symptoms: ["膝关节疼痛", "关节肿胀", "上下楼困难"], drugs: ["双氯芬酸", "氨基葡萄糖", "玻璃酸钠"], tests: ["膝关节X线", "膝关节磁共振"] },
      { diagnosis: "股骨颈骨折", symptoms: ["髋部疼痛", "活动受限", "患肢外旋短缩"], drugs: ["低分子肝素", "塞来昔布"], tests: ["髋关节X线", "髋关节CT"] },
    ],
  },
  {
    department: "儿科",
    diagnoses: [
      { diagnosis: "急性上呼吸道感染", symptoms: ["发热", "流涕", "咽痛", "咳嗽"], drugs: ["对乙酰氨基酚", "布洛芬混悬液", "小儿氨酚黄那敏"], tests: ["血常规", "咽拭子"] },
      { diagnosis: "手足口病", symptoms: ["发热", "口腔疱疹", "手足皮疹"], drugs: ["对乙酰氨基酚", "康复新液"], tests: ["肠道病毒核酸", "血常规"] },
    ],
  },
  {
    department: "妇产科",
    diagnoses: [
      { diagnosis: "妊娠期糖尿病", symptoms: ["口渴", "多尿", "疲乏"], drugs: ["门冬胰岛素", "地特胰岛素"], tests: ["口服葡萄糖耐量试验", "糖化血红蛋白", "胎儿超声"] },
      { diagnosis: "子宫肌瘤", symptoms: ["月经量增多", "经期延长", "下腹坠胀"], drugs: ["米非司酮", "琥珀酸亚铁"], tests: ["盆腔超声", "血常规"] },
    ],
  },
  {
    department: "急诊科",
    diagnoses: [
      { diagnosis: "急性胃肠炎", symptoms: ["腹泻", "呕吐", "腹痛", "发热"], drugs: ["蒙脱石散", "口服补液盐", "左氧氟沙星"], tests: ["大便常规", "电解质", "血常规"] },
      { diagnosis: "急性一氧化碳中毒", symptoms: ["头痛", "恶心", "意识模糊"], drugs: ["高压氧", "甘露醇"], tests: ["碳氧血红蛋白", "头颅CT"] },
    ],
  },
];

export const englishDepartments: readonly DepartmentWords[] = [
  {
    department: "Cardiology",
    diagnoses: [
      { diagnosis: "essential hypertension", symptoms: ["headache", "dizziness", "palpitations"], drugs: ["amlodipine", "lisinopril", "metoprolol"], tests: ["ambulatory blood pressure monitoring", "electrocardiogram", "renal panel"] },
      { diagnosis: "atrial fibrillation", symptoms: ["palpitations", "fatigue", "shortness of breath"], drugs: ["apixaban", "warfarin", "diltiazem"], tests: ["electrocardiogram", "echocardiogram", "thyroid panel"] },
      { diagnosis: "congestive heart failure", symptoms: ["ankle swelling", "orthopnea", "exertional dyspnea"], drugs: ["furosemide", "spironolactone", "carvedilol"], tests: ["BNP", "echocardiogram", "chest radiograph"] },
    ],
  },
  {
    department: "Pulmonology",
    diagnoses: [
      { diagnosis: "community-acquired pneumonia", symptoms: ["fever", "productive cough", "pleuritic chest pain"], drugs: ["ceftriaxone", "azithromycin", "levofloxacin"], tests: ["chest radiograph", "blood culture", "procalcitonin"] },
      { diagnosis: "asthma exacerbation", symptoms: ["wheezing", "chest tightness", "night-time cough"], drugs: ["albuterol", "budesonide", "prednisone"], tests: ["peak flow", "spirometry"] },
    ],
  },
  {
    department: "Endocrinology",
    diagnoses: [
      { diagnosis: "type 2 diabetes mellitus", symptoms: ["polyuria", "polydipsia", "blurred vision"], drugs: ["metformin", "empagliflozin", "insulin glargine"], tests: ["HbA1c", "fasting glucose", "urine albumin"] },
      { diagnosis: "hypothyroidism", symptoms: ["fatigue", "weight gain", "cold intolerance"], drugs: ["levothyroxine"], tests: ["TSH", "free T4"] },
    ],
  },
  {
    department: "Neurology",
    diagnoses: [
      { diagnosis: "ischemic stroke", symptoms: ["facial droop", "arm weakness", "slurred speech"], drugs: ["alteplase", "clopidogrel", "atorvastatin"], tests: ["brain MRI", "carotid ultrasound", "CT angiography"] },
      { diagnosis: "migraine without aura", symptoms: ["throbbing headache", "photophobia", "nausea"], drugs: ["sumatriptan", "ibuprofen", "topiramate"], tests: ["neurological examination", "head CT"] },
    ],
  },
  {
    department: "Orthopedics",
    diagnoses: [
      { diagnosis: "lumbar disc herniation", symptoms: ["low back pain", "sciatica", "leg numbness"], drugs: ["naproxen", "gabapentin", "cyclobenzaprine"], tests: ["lumbar MRI", "straight leg raise test"] },
      { diagnosis: "osteoarthritis of the knee", symptoms: ["knee pain", "morning stiffness", "crepitus"], drugs: ["acetaminophen", "diclofenac gel", "intra-articular corticosteroid"], tests: ["knee radiograph"] },
    ],
  },
];

export const chineseDurations = ["1天", "3天", "1周", "2周", "1月", "3月", "半年", "1年", "3年", "10余年"];
export const chineseOnsets = ["无明显诱因出现", "受凉后出现", "劳累后出现", "情绪激动后出现", "饮食不洁后出现", "夜间睡眠中出现"];
export const chineseHistories = ["否认肝炎、结核等传染病史", "有高血压病史5年", "有2型糖尿病病史8年", "否认手术外伤史", "青霉素过敏", "吸烟20年，每日1包", "否认药物过敏史", "有脑梗死病史2年"];
export const chineseFrequencies = ["每日一次", "每日两次", "每日三次", "每晚一次", "必要时"];
export const chineseResults = ["未见明显异常", "提示轻度异常", "较前好转", "明显升高", "轻度降低", "符合临床诊断"];
export const chineseAdvice = ["低盐低脂饮食，适量运动。", "定期复查，如有不适随诊。", "注意休息，避免劳累。", "戒烟限酒，监测血压血糖。", "两周后门诊复诊。"];
export const chineseNumbers = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

export const englishDurations = ["2 days", "5 days", "1 week", "3 weeks", "2 months", "6 months", "1 year", "several years"];
export const englishHistories = ["no known drug allergies", "hypertension for 5 years", "type 2 diabetes for 8 years", "appendectomy in childhood", "penicillin allergy", "former smoker, 20 pack-years"];
export const englishFrequencies = ["once daily", "twice daily", "three times daily", "at bedtime", "as needed"];
export const englishResults = ["within normal limits", "mildly abnormal", "improved since the last visit", "markedly elevated", "consistent with the diagnosis"];
export const englishAdvice = ["Low-salt diet and regular exercise.", "Follow up in two weeks.", "Return if symptoms worsen.", "Monitor blood pressure and glucose at home."];
